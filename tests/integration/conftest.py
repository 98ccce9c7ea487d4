"""Integration fixtures: the real MiniLM and SmolLM2 models, indexes on disk, subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DATA_DIR, REPO_ROOT

pytestmark = pytest.mark.integration

COMMAND_TIMEOUT = 300


@pytest.fixture(scope="session", autouse=True)
def user_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One user cache folder per session: ONNX exports are made once, never in ~/.cache."""
    folder = tmp_path_factory.mktemp("user-cache")
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = previous


def rag_env(index_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for a ``rag`` subprocess: offline, isolated index, no RAG_* leaks."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("RAG_") and key != "OLLAMA_HOST"
    }
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        RAG_INDEX_DIR=str(index_dir),
        # No Ollama in tests: a closed loopback port makes `auto` pick the embedded model,
        # and no model already on this machine is looked for.
        OLLAMA_HOST="127.0.0.1:9",
        RAG_LLM_DISCOVER="0",
        # The code under test, not the checkout the virtualenv was installed from (a worktree).
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    )
    env.update(extra)
    return env


def start_rag(
    args: Sequence[str], env: dict[str, str], *, quiet: bool = False
) -> subprocess.Popen[str]:
    """Start ``python -m app ARGS`` in the background: its output piped, or dropped if quiet."""
    output = subprocess.DEVNULL if quiet else subprocess.PIPE
    return subprocess.Popen(
        [sys.executable, "-m", "app", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=output,
        text=True,
    )


def run_rag(
    args: Sequence[str], env: dict[str, str], cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m app ARGS`` in a fresh process and return its result."""
    result = subprocess.run(
        [sys.executable, "-m", "app", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"rag {' '.join(args)} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


def run_json(args: Sequence[str], env: dict[str, str]) -> Any:
    """Run a ``rag`` command with ``--json`` output and parse it."""
    return json.loads(run_rag(args, env).stdout)


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample documents of data/ indexed once with the real MiniLM."""
    index_dir = tmp_path_factory.mktemp("sample") / "index"
    run_rag(["ingest", str(DATA_DIR)], rag_env(index_dir))
    return index_dir


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """One real PostgreSQL with pgvector for the session (tests/support/postgres.py)."""
    from tests.support.postgres import running_postgres

    with running_postgres() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: Any, request: pytest.FixtureRequest) -> str:
    """A fresh database on the session's server, for one test."""
    import re
    import uuid

    name = re.sub(r"[^a-z0-9]", "_", request.node.name.lower())[:40]
    return str(postgres_server.create_database(f"t_{name}_{uuid.uuid4().hex[:6]}"))
