"""``rag watch`` in a subprocess over a temporary folder, checked with ``rag ask`` from elsewhere.

The index lives in a temporary XDG_DATA_HOME (no RAG_INDEX_DIR): the watcher runs in one
working folder and every ``rag ask`` in another, so these tests also show that a collection
is found from any folder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.conftest import rag_env, run_rag

pytestmark = pytest.mark.integration

DEADLINE = 60.0
"""Seconds a change may take to reach the index (the first sync loads the embedding model)."""


def _home_env(tmp_path: Path) -> dict[str, str]:
    env = rag_env(tmp_path / "unused")
    del env["RAG_INDEX_DIR"]
    env["XDG_DATA_HOME"] = str(tmp_path / "data-home")
    return env


@dataclass
class RunningWatcher:
    """A ``rag watch`` process, its output files and the environment of its collection."""

    process: subprocess.Popen[str]
    out: Path
    err: Path
    env: dict[str, str]
    elsewhere: Path

    def summaries(self) -> list[str]:
        """The one-line sync summaries printed so far."""
        return [line for line in self.out.read_text().splitlines() if line.startswith("Indexed ")]

    def stderr(self) -> str:
        return self.err.read_text()

    def ask(self, question: str) -> list[str]:
        """The sources ``rag ask --retrieve-only`` finds, run from another working folder."""
        result = subprocess.run(
            [sys.executable, "-m", "app", "ask", "--json", "--retrieve-only", question],
            env=self.env,
            cwd=self.elsewhere,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == 0, result.stderr
        return [source["source"] for source in json.loads(result.stdout)["sources"]]

    def files(self) -> set[str]:
        """The sources ``rag ls`` lists (no model loaded: cheap enough to poll)."""
        result = run_rag(["ls", "--json"], self.env, cwd=self.elsewhere, check=False)
        if result.returncode != 0:
            return set()
        return {entry["source"] for entry in json.loads(result.stdout)}

    def wait_for(self, what: str, condition: Callable[[], bool]) -> None:
        """Poll ``condition`` until it holds, failing after DEADLINE seconds."""
        deadline = time.monotonic() + DEADLINE
        while not condition():
            if self.process.poll() is not None:
                raise AssertionError(f"the watcher exited: {self.stderr()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} within {DEADLINE} s; stderr: {self.stderr()}")
            time.sleep(0.2)


@pytest.fixture
def start_watcher(tmp_path: Path) -> Iterator[Callable[..., RunningWatcher]]:
    started: list[subprocess.Popen[str]] = []

    def start(*paths: Path, extra: tuple[str, ...] = ()) -> RunningWatcher:
        env = _home_env(tmp_path)
        here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
        here.mkdir(exist_ok=True)
        elsewhere.mkdir(exist_ok=True)
        out, err = tmp_path / "watch.out", tmp_path / "watch.err"
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "watch", *map(str, paths), *extra],
            env=env,
            cwd=here,
            stdout=out.open("w"),
            stderr=err.open("w"),
            stdin=subprocess.DEVNULL,
            text=True,
        )
        started.append(process)
        return RunningWatcher(process, out, err, env, elsewhere)

    yield start
    for process in started:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_watch_follows_creates_edits_renames_and_deletes(
    tmp_path: Path, start_watcher: Callable[..., RunningWatcher]
) -> None:
    docs = tmp_path / "docs"
    _write(docs / "backup.md", "The backup runs nightly at 02:30 and copies the home folder.")
    _write(docs / "ollama.md", "Ollama listens on port 11434 on the loopback address.")
    watcher = start_watcher(docs)
    watcher.wait_for("the initial sync", lambda: len(watcher.summaries()) == 1)
    assert watcher.ask("When does the backup run?")[0] == "backup.md"

    _write(docs / "vpn.md", "The VPN gateway is vpn.example.org, reached on port 443.")
    watcher.wait_for("a new file", lambda: "vpn.md" in watcher.files())
    assert watcher.ask("Which host is the VPN gateway?")[0] == "vpn.md"

    _write(docs / "backup.md", "Snapshots of the database are taken every hour by pgbackrest.")
    watcher.wait_for("an edit", lambda: "1 updated" in watcher.summaries()[-1])
    assert watcher.ask("How often are database snapshots taken?")[0] == "backup.md"

    (docs / "vpn.md").rename(docs / "network.md")
    watcher.wait_for("a rename", lambda: "network.md" in watcher.files())
    assert "vpn.md" not in watcher.files()
    assert "1 renamed" in watcher.summaries()[-1]
    assert watcher.ask("Which host is the VPN gateway?")[0] == "network.md"

    (docs / "ollama.md").unlink()
    watcher.wait_for("a deletion", lambda: "ollama.md" not in watcher.files())
    assert "ollama.md" not in watcher.ask("Which port does Ollama listen on?")

    # Editor swap files, temporary files and hidden folders never reach the index.
    _write(docs / ".network.md.swp", "swap")
    _write(docs / "notes.md~", "backup copy")
    _write(docs / ".git" / "HEAD.md", "ref: refs/heads/main")
    _write(docs / "last.md", "The last file is about the printer on floor three.")
    watcher.wait_for("the file after the ignored ones", lambda: "last.md" in watcher.files())
    assert watcher.files() == {"backup.md", "network.md", "last.md"}


def test_a_burst_of_50_files_is_far_fewer_syncs(
    tmp_path: Path, start_watcher: Callable[..., RunningWatcher]
) -> None:
    docs = tmp_path / "docs"
    _write(docs / "start.md", "The first file of the folder.")
    watcher = start_watcher(docs)
    watcher.wait_for("the initial sync", lambda: len(watcher.summaries()) == 1)
    for number in range(50):
        _write(docs / f"note-{number:02d}.md", f"Note {number} is about topic number {number}.")
    watcher.wait_for("all 51 files", lambda: len(watcher.files()) == 51)
    syncs = len(watcher.summaries()) - 1
    assert 1 <= syncs <= 5, watcher.summaries()
    assert watcher.ask("Which note is about topic number 37?")[0] == "note-37.md"


def test_unreadable_files_and_a_folder_that_disappears_and_comes_back(
    tmp_path: Path, start_watcher: Callable[..., RunningWatcher]
) -> None:
    docs, other = tmp_path / "docs", tmp_path / "other"
    _write(docs / "a.md", "Alpha is the first letter.")
    _write(other / "b.md", "Bravo is the second word of the alphabet.")
    watcher = start_watcher(docs, other)
    watcher.wait_for("the initial sync", lambda: watcher.files() == {"a.md", "b.md"})

    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    _write(docs / "c.md", "Charlie follows bravo.")
    watcher.wait_for("a file beside a broken one", lambda: "c.md" in watcher.files())
    assert "warning: skipped" in watcher.stderr() and "broken.pdf" in watcher.stderr()

    for path in other.iterdir():
        path.unlink()
    other.rmdir()
    watcher.wait_for("the vanished folder noted", lambda: "disappeared" in watcher.stderr())
    assert "b.md" in watcher.files()  # a vanished folder keeps its chunks
    _write(other / "d.md", "Delta comes back with the folder.")
    watcher.wait_for("the folder back", lambda: "d.md" in watcher.files())
    _write(other / "e.md", "Echo is written after the folder came back.")
    watcher.wait_for("changes in the returned folder", lambda: "e.md" in watcher.files())
    assert watcher.ask("What comes back with the folder?")[0] == "d.md"


def test_sigint_during_a_sync_waits_for_it_and_leaves_a_readable_index(
    tmp_path: Path, start_watcher: Callable[..., RunningWatcher]
) -> None:
    from filelock import FileLock

    from retrievers.writer_lock import LOCK_FILE

    docs = tmp_path / "docs"
    _write(docs / "a.md", "Alpha is the first letter.")
    watcher = start_watcher(docs)
    watcher.wait_for("the initial sync", lambda: len(watcher.summaries()) == 1)
    index_dir = tmp_path / "data-home" / "ragkit" / "collections" / "default"
    second_writer = FileLock(str(index_dir / LOCK_FILE))
    with second_writer:
        _write(docs / "b.md", "Bravo waits for the other writer.")
        # Once the second sync has begun, it waits for the lock this test holds.
        watcher.wait_for("the second sync", lambda: "syncing after" in watcher.stderr())
        os.kill(watcher.process.pid, signal.SIGINT)
        watcher.wait_for("the stop notice", lambda: "stopping once this sync" in watcher.stderr())
        assert watcher.process.poll() is None
    assert watcher.process.wait(timeout=DEADLINE) == 0, watcher.stderr()
    assert len(watcher.summaries()) == 2 and "1 added" in watcher.summaries()[-1]
    assert "stopped after 2 syncs" in watcher.stderr()
    assert watcher.ask("Who waits for the other writer?")[0] == "b.md"


def test_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    result = run_rag(["watch", str(tmp_path / "nowhere")], _home_env(tmp_path), check=False)
    assert result.returncode == 2 and "exists" in result.stderr
