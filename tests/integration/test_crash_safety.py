"""SIGKILL an ingest at random moments: the index is always the old one or the new one."""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app import Rag
from retrievers.snapshots import current_snapshot
from tests.integration.conftest import rag_env, run_json, run_rag

pytestmark = pytest.mark.integration

KILL_TRIALS = 20


def _write_corpus(root: Path, count: int, edition: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for number in range(count):
        body = " ".join(
            f"Note {number} ({edition}) sentence {i} about topic {number * 7 % 13}."
            for i in range(40)
        )
        (root / f"note-{number:03d}.md").write_text(f"# Note {number}\n\n{body}\n", "utf-8")


def _state(index_dir: Path) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """What the live index holds: its files with hashes, and its chunk ids in order."""
    snapshot = current_snapshot(index_dir)
    manifest = json.loads((snapshot / "manifest.json").read_text("utf-8"))
    files = tuple(sorted((f["path"], f["content_hash"]) for f in manifest["files"]))
    lines = (snapshot / "docstore.jsonl").read_text("utf-8").splitlines()
    return files, tuple(json.loads(line)["id"] for line in lines)


def test_killed_ingests_leave_the_old_or_the_new_index(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    index_dir = tmp_path / "index"
    pristine = tmp_path / "pristine"
    env = rag_env(index_dir)

    _write_corpus(corpus, 40, "first edition")
    run_rag(["ingest", str(corpus)], env)
    old_state = _state(index_dir)
    shutil.copytree(index_dir, pristine, symlinks=True)

    _write_corpus(corpus, 80, "second edition")
    started = time.monotonic()
    run_rag(["ingest", str(corpus)], env)
    full_run = time.monotonic() - started
    new_state = _state(index_dir)
    assert new_state != old_state

    rag = Rag.from_settings(index_dir=index_dir, llm_provider="none")
    rng = random.Random(20261124)
    outcomes = {"old": 0, "new": 0}
    for _ in range(KILL_TRIALS):
        shutil.rmtree(index_dir)
        shutil.copytree(pristine, index_dir, symlinks=True)
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "ingest", str(corpus)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.25, 1.05) * full_run)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

        state = _state(index_dir)
        assert state in (old_state, new_state)
        outcomes["old" if state == old_state else "new"] += 1
        status = run_json(["status", "--json"], env)
        assert status["chunks"] == len(state[1])
        hits = rag.retrieve("topic 5 sentence", k=3)
        assert len(hits) == 3 and all(hit.id in state[1] for hit in hits)

    print(f"kill trials: {KILL_TRIALS}, old index: {outcomes['old']}, new: {outcomes['new']}")
    run_rag(["ingest", str(corpus)], env)
    leftovers = [p.name for p in index_dir.iterdir() if p.name.startswith(".tmp-")]
    assert leftovers == []
    assert _state(index_dir) == new_state
