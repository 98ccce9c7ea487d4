"""rag migrate moves an index between the local store and Postgres without embedding."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app import Rag
from tests.integration.conftest import rag_env, run_json, run_rag

pytestmark = pytest.mark.integration

QUESTIONS = (
    "How do I import a GGUF model into Ollama?",
    "Why does a local request return 502 behind a proxy?",
    "checklist before replacing a model",
)


def ranked_ids(rag: Rag, mode: str = "dense") -> list[list[str]]:
    return [[hit.id for hit in rag.retrieve(question, k=4, mode=mode)] for question in QUESTIONS]


def test_migrate_to_postgres_and_back_answers_identically(
    tmp_path: Path, sample_index: Path, postgres_url: str
) -> None:
    local = tmp_path / "index"
    shutil.copytree(sample_index, local, symlinks=True)
    env = rag_env(local, RAG_POSTGRES_URL=postgres_url)
    moved = run_json(["migrate", "--to", "postgres", "--json"], env)
    assert moved["chunks_embedded"] == 0 and moved["chunks"] > 20 and moved["files"] == 5
    assert "0 chunks embedded" in run_rag(["migrate", "--to", "postgres"], env).stdout

    on_local = Rag.from_settings(index_dir=local, llm_provider="none")
    on_postgres = Rag.from_settings(
        store="postgres", postgres_url=postgres_url, llm_provider="none"
    )
    assert ranked_ids(on_postgres) == ranked_ids(on_local)
    # Hybrid: the keyword side is ts_rank in Postgres and BM25 locally; the best hit agrees.
    hybrid_pg, hybrid_local = ranked_ids(on_postgres, "hybrid"), ranked_ids(on_local, "hybrid")
    assert [ids[0] for ids in hybrid_pg] == [ids[0] for ids in hybrid_local]
    assert on_postgres.status().chunks == moved["chunks"]

    # The file hashes came along: ingesting the same folder into Postgres embeds nothing.
    pg_env = {**env, "RAG_STORE": "postgres"}
    synced = run_json(["ingest", str(Path(__file__).parents[2] / "data"), "--json"], pg_env)
    assert (synced["files_unchanged"], synced["chunks_embedded"]) == (5, 0)

    back = tmp_path / "back"
    returned = run_json(["migrate", "--to", "local", "--json"], {**env, "RAG_INDEX_DIR": str(back)})
    assert returned["chunks_embedded"] == 0 and returned["chunks"] == moved["chunks"]
    assert ranked_ids(Rag.from_settings(index_dir=back, llm_provider="none")) == ranked_ids(
        on_local
    )


def test_migrate_without_a_database_url_is_a_clear_error(tmp_path: Path) -> None:
    failed = run_rag(["migrate", "--to", "postgres"], rag_env(tmp_path / "index"), check=False)
    assert failed.returncode == 2
    assert "RAG_POSTGRES_URL=postgresql://" in failed.stderr and "Traceback" not in failed.stderr
