"""The database password is never printed: status, doctor, summaries and errors mask it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import DATA_DIR
from tests.integration.conftest import rag_env, run_rag

pytestmark = pytest.mark.integration

SECRET = "s3cret-Pa55"


def test_the_password_never_appears_in_any_output(tmp_path: Path, postgres_url: str) -> None:
    # The test server trusts loopback connections, so any password is accepted.
    url = postgres_url.replace("postgres@", f"postgres:{SECRET}@")
    env = rag_env(tmp_path / "unused", RAG_STORE="postgres", RAG_POSTGRES_URL=url)
    outputs = [
        run_rag(["ingest", str(DATA_DIR)], env),
        run_rag(["status"], env),
        run_rag(["status", "--json"], env),
        run_rag(["doctor"], env, check=False),
        run_rag(["ask", "GGUF", "--retrieve-only"], env),
    ]
    down = {**env, "RAG_POSTGRES_URL": f"postgresql://postgres:{SECRET}@127.0.0.1:9/nothing"}
    failed = run_rag(["status"], down, check=False)
    outputs.append(failed)
    for result in outputs:
        assert SECRET not in result.stdout + result.stderr
    assert "postgres:***@127.0.0.1" in outputs[1].stdout
    assert failed.returncode == 1 and "cannot connect to PostgreSQL at" in failed.stderr
    assert "Traceback" not in failed.stderr
