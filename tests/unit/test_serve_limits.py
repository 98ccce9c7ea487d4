"""Upload names, the roots an ingest may read, and the answer queue's bound."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from pytest_socket import disable_socket, enable_socket

from app.errors import AnswerQueueFullError, ForbiddenRequestError, InputPathError, UsageError
from app.serve.answer_queue import AnswerQueue
from app.serve.errors import error_headers
from app.serve.uploads import confined_path, parse_roots, safe_name


@pytest.fixture(autouse=True)
def _offline() -> Iterator[None]:
    """The event loop needs its Unix socket pair; network sockets stay blocked."""
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("notes.md", "notes.md"),
        (".env", "env"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\report.pdf", "report.pdf"),
        ("a<b>|c?.txt", "a_b__c_.txt"),
        ("line\nbreak\x00.md", "linebreak.md"),
        ("本地模型笔记.md", "本地模型笔记.md"),
        ("x" * 300 + ".pdf", "x" * 116 + ".pdf"),
    ],
)
def test_upload_names_lose_folders_and_unsafe_characters(given: str, expected: str) -> None:
    assert safe_name(given) == expected


@pytest.mark.parametrize("given", ["", "..", "../", "a/..", "   "])
def test_names_with_nothing_usable_are_refused(given: str) -> None:
    with pytest.raises(UsageError):
        safe_name(given)


def test_paths_must_stay_under_the_roots(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.md").write_text("a", encoding="utf-8")
    (tmp_path / "outside.md").write_text("b", encoding="utf-8")
    (root / "link.md").symlink_to(tmp_path / "outside.md")
    roots = parse_roots(f"{root}{os.pathsep}{tmp_path / 'other'}")
    assert confined_path("sub/a.md", roots) == (root / "sub" / "a.md").resolve()
    assert confined_path(str(root / "sub"), roots) == (root / "sub").resolve()
    for escape in ("../outside.md", "sub/../../outside.md", str(tmp_path / "outside.md"), "/"):
        with pytest.raises(ForbiddenRequestError):
            confined_path(escape, roots)
    with pytest.raises(ForbiddenRequestError):
        confined_path("link.md", roots)  # a link that leaves the root
    with pytest.raises(InputPathError):
        confined_path("sub/missing.md", roots)
    with pytest.raises(ForbiddenRequestError, match="RAG_SERVE_ROOTS"):
        confined_path("sub/a.md", ())


def test_the_queue_admits_one_running_and_its_waiting_places() -> None:
    queue = AnswerQueue(waiting=1)
    first = queue.admit()
    queue.admit()
    with pytest.raises(AnswerQueueFullError) as caught:
        queue.admit()
    assert caught.value.retry_after >= 1
    assert error_headers(caught.value)["Retry-After"] == str(round(caught.value.retry_after))
    first.leave()
    first.leave()  # a place is given back once, however often it is left
    assert queue.admitted == 1
    queue.admit()
    assert queue.admitted == 2


def test_an_answer_waiting_for_its_turn_stops_waiting_when_cancelled() -> None:
    queue = AnswerQueue(waiting=1)

    async def main() -> None:
        started = await queue.next_turn()
        with anyio.move_on_after(0.2):
            await queue.next_turn()  # the model is busy: this waits until cancelled
        queue.end_turn(started)
        queue.end_turn(await queue.next_turn())  # the cancelled wait took no turn

    anyio.run(main)


def test_a_turn_is_timed_and_shapes_the_retry_estimate() -> None:
    queue = AnswerQueue(waiting=0)
    with queue.place():
        assert queue.admitted == 1
    assert queue.admitted == 0
    assert queue.retry_after() == 1.0  # the turn took well under a second
