"""SIGKILL an ingest at random moments: the index is always the old one or the new one."""

from __future__ import annotations

import json
import random
import shutil
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from app import Rag
from retrievers.snapshots import current_snapshot
from tests.integration.conftest import rag_env, run_json, run_rag, start_rag

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

    _write_corpus(corpus, 30, "first edition")
    run_rag(["ingest", str(corpus)], env)
    old_state = _state(index_dir)
    shutil.copytree(index_dir, pristine, symlinks=True)

    _write_corpus(corpus, 60, "second edition")
    started = time.monotonic()
    run_rag(["ingest", str(corpus)], env)
    full_run = time.monotonic() - started
    new_state = _state(index_dir)
    assert new_state != old_state

    rng = random.Random(20261124)
    # Two ingests at once run slower than the solo run that measured full_run.
    delays = [rng.uniform(0.3, 1.9) * full_run for _ in range(KILL_TRIALS)]

    def trial(number: int) -> str:
        """Restore the old index, start an ingest of the new corpus, kill it, check."""
        trial_dir = tmp_path / f"trial-{number % 2}"
        shutil.rmtree(trial_dir, ignore_errors=True)
        shutil.copytree(pristine, trial_dir, symlinks=True)
        trial_env = rag_env(trial_dir)
        process = start_rag(["ingest", str(corpus)], trial_env, quiet=True)
        time.sleep(delays[number])
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

        state = _state(trial_dir)
        assert state in (old_state, new_state)
        status = run_json(["status", "--json"], trial_env)
        assert status["chunks"] == len(state[1])
        rag = Rag.from_settings(index_dir=trial_dir, llm_provider="none")
        hits = rag.retrieve("topic 5 sentence", k=3)
        assert len(hits) == 3 and all(hit.id in state[1] for hit in hits)
        return "old" if state == old_state else "new"

    # Two trials at a time (one per core), each on its own copy of the old index.
    outcomes: list[str] = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        for pair in range(0, KILL_TRIALS, 2):
            outcomes += pool.map(trial, range(pair, min(pair + 2, KILL_TRIALS)))
    assert len(outcomes) == KILL_TRIALS
    outcomes_count = {"old": outcomes.count("old"), "new": outcomes.count("new")}
    index_dir = tmp_path / "trial-0"
    env = rag_env(index_dir)

    print(
        f"kill trials: {KILL_TRIALS}, old index: {outcomes_count['old']}, "
        f"new: {outcomes_count['new']}"
    )
    run_rag(["ingest", str(corpus)], env)
    leftovers = [p.name for p in index_dir.iterdir() if p.name.startswith(".tmp-")]
    assert leftovers == []
    assert _state(index_dir) == new_state
