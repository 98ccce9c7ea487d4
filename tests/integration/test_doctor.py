from pathlib import Path

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from app.cli.doctor import Check, exit_code, render_table, run_checks, to_json
from app.config.settings import resolve_settings
from app.ingestion.run import ingest_paths
from app.retrieval import build_store
from retrievers.snapshots import current_snapshot
from tests.unit.conftest import write_files

pytestmark = pytest.mark.integration
CLOSED_PORT = "127.0.0.1:9"


def _by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


def test_no_index_blocks_answering(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://alice:hunter2@proxy.example:3128")
    settings = resolve_settings({"llm_provider": "none", "ollama_host": CLOSED_PORT}, {}, {})
    checks = run_checks(settings, build_store(settings))
    rows = _by_name(checks)
    assert rows["index"].status == "fail" and "rag ingest" in rows["index"].detail
    assert rows["proxy HTTPS_PROXY"].detail == "http://***:***@proxy.example:3128"
    assert "hunter2" not in render_table(checks)
    assert rows["no_proxy"].status == "ok"
    assert rows["setting RAG_LLM_PROVIDER"].detail == "none (flag)"
    assert rows["embeddings"].status == "ok"
    assert exit_code(checks) == 1
    assert to_json(checks)["ok"] is False


def test_a_healthy_setup_passes(tmp_path: Path) -> None:
    settings = resolve_settings({"llm_provider": "none", "index_dir": tmp_path / "index"}, {}, {})
    docs = write_files(tmp_path / "docs", {"a.md": "alpha"})
    store = build_store(settings)
    ingest_paths([docs], store, settings, DeterministicFakeEmbedding(size=8))
    checks = run_checks(settings, store)
    rows = _by_name(checks)
    assert rows["index"].status == "ok", rows["index"].detail
    assert "1 files, 1 chunks" in rows["index"].detail
    assert exit_code(checks) == 0, render_table(checks)
    assert render_table(checks).endswith("doctor: answering will work")


def test_index_built_with_another_model_fails(tmp_path: Path) -> None:
    settings = resolve_settings(
        {"llm_provider": "none", "index_dir": tmp_path / "i", "ollama_host": CLOSED_PORT}, {}, {}
    )
    store = build_store(settings)
    ingest_paths(
        [write_files(tmp_path / "d", {"a.md": "alpha"})],
        store,
        settings,
        DeterministicFakeEmbedding(size=8),
    )
    other = settings.replace(embed_model="BAAI/bge-small-en-v1.5")
    rows = _by_name(run_checks(other, store))
    assert rows["index"].status == "fail"
    assert "RAG_EMBED_MODEL=sentence-transformers/all-MiniLM-L6-v2" in rows["index"].detail
    assert rows["embeddings"].status == "fail"  # not on disk, and HF_HUB_OFFLINE=1 in tests


def test_a_cut_docstore_is_reported_with_the_fix(tmp_path: Path) -> None:
    settings = resolve_settings({"llm_provider": "none", "index_dir": tmp_path / "index"}, {}, {})
    docs = write_files(tmp_path / "docs", {"a.md": "alpha", "b.md": "beta"})
    store = build_store(settings)
    ingest_paths([docs], store, settings, DeterministicFakeEmbedding(size=8))
    docstore = current_snapshot(settings.index_dir) / "docstore.jsonl"
    docstore.write_bytes(docstore.read_bytes()[:-5])
    row = _by_name(run_checks(settings, store))["index"]
    assert row.status == "fail"
    assert row.detail.startswith(f"index at {settings.index_dir} is damaged: docstore.jsonl has")
    assert row.detail.endswith("run `rag ingest --rebuild PATH`")
