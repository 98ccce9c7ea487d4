"""One writer at a time; readers keep answering from the last complete index."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from app import Rag
from retrievers.writer_lock import HOLDER_FILE
from tests.integration.conftest import COMMAND_TIMEOUT, rag_env, run_rag, start_rag
from tests.support.readers import reading_continuously

pytestmark = pytest.mark.integration


def _write_corpus(root: Path, count: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for number in range(count):
        text = " ".join(f"Record {number} mentions item {i * number % 97}." for i in range(60))
        (root / f"record-{number:04d}.txt").write_text(text, encoding="utf-8")


def _wait_for(path: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear within {seconds} s")
        time.sleep(0.05)


def test_second_writer_fails_or_waits_while_readers_keep_answering(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    env = rag_env(index_dir)
    small = tmp_path / "small"
    _write_corpus(small, 3)
    run_rag(["ingest", str(small)], env)

    big = tmp_path / "big"
    _write_corpus(big, 120)
    rag = Rag.from_settings(index_dir=index_dir, llm_provider="none")
    rag.retrieve("warm up")

    writer = start_rag(["ingest", str(big)], env)
    try:
        _wait_for(index_dir / HOLDER_FILE, 120)
        with reading_continuously(rag, "item 42") as reads:
            busy = run_rag(["ingest", str(small)], env, check=False)
            assert busy.returncode == 1
            assert "another ingest is writing the index" in busy.stderr
            assert f"pid {writer.pid}" in busy.stderr
            assert "--wait SECONDS" in busy.stderr

            cli_read = run_rag(["ask", "item 42", "--retrieve-only", "--json"], env)
            assert '"sources": [{' in cli_read.stdout

            waiting = start_rag(["ingest", str(small), "--wait", "300"], env)
            _, err = writer.communicate(timeout=COMMAND_TIMEOUT)
            assert writer.returncode == 0, err
            _, waited_err = waiting.communicate(timeout=COMMAND_TIMEOUT)
            assert waiting.returncode == 0, waited_err
    finally:
        if writer.poll() is None:
            writer.kill()
    assert reads.errors == []
    assert reads.counts and all(count == 3 for count in reads.counts)
    print(f"concurrent reads during ingest: {len(reads.counts)}, failures: {len(reads.errors)}")
    # The long-lived reader sees the new version without being restarted.
    assert len(rag.index()) > 120
    assert len(rag.retrieve("item 42", k=1000)) > 120
