"""The PostgreSQL store keeps the store contract, on a real server with pgvector."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrievers.postgres.store import PostgresStore
from retrievers.store import IndexStore
from tests.contracts.store_contract import IndexStoreContract


class TestPostgresStore(IndexStoreContract):
    @pytest.fixture
    def store(self, postgres_url: str) -> IndexStore:
        return PostgresStore(postgres_url, collection="contract")

    def reopen(self, store: IndexStore) -> IndexStore:
        assert isinstance(store, PostgresStore)
        return PostgresStore(store.url, collection=store.collection)

    def damage(self, store: IndexStore) -> None:
        assert isinstance(store, PostgresStore)
        import psycopg

        with psycopg.connect(store.url, autocommit=True) as connection:
            connection.execute(f"DELETE FROM {store.tables.chunks} WHERE row_id % 2 = 0")

    def stored_bytes(self, store: IndexStore) -> list[bytes]:
        assert isinstance(store, PostgresStore)
        import psycopg

        with psycopg.connect(store.url, autocommit=True) as connection:
            rows = connection.execute(
                f"SELECT text, metadata::text, embedding::text FROM {store.tables.chunks}"
            ).fetchall()
            manifests = connection.execute(
                "SELECT manifest::text FROM ragkit_collections"
            ).fetchall()
        return [str(value).encode() for row in [*rows, *manifests] for value in row]

    def make_store(self, tmp_path: Path) -> IndexStore:
        raise NotImplementedError  # the fixture above gives a database instead


def test_bm25_scores_in_postgres_equal_the_local_ones_after_edits_and_deletes(
    tmp_path: Path, postgres_url: str
) -> None:
    from app import Rag
    from app.config.settings import resolve_settings
    from app.ingestion.run import ingest_paths
    from app.retrieval import build_store
    from tests.integration.test_chinese import NOTES
    from tests.unit.conftest import COUNTING_DIMENSION, CountingEmbeddings, write_files

    files = {**NOTES, "backup.md": "# Backup\n\nThe restic backup runs nightly at 02:30.",
             "proxy.md": "# Proxy\n\nAdd 127.0.0.1 to NO_PROXY or Ollama answers 502."}  # fmt: skip
    docs = write_files(tmp_path / "docs", files)
    settings = {
        "local": resolve_settings({"index_dir": tmp_path / "index"}, {}, {}),
        "postgres": resolve_settings({"store": "postgres", "postgres_url": postgres_url}, {}, {}),
    }
    embeddings = CountingEmbeddings(size=COUNTING_DIMENSION)

    def ingest_both() -> dict[str, Rag]:
        rags = {}
        for kind, each in settings.items():
            store = build_store(each)
            ingest_paths([docs], store, each, embeddings)
            rags[kind] = Rag(each, embeddings=embeddings, store=store)
        return rags

    def bm25_of(rag: Rag, query: str) -> list[tuple[str, float]]:
        found = rag.retriever(k=5, mode="bm25").invoke(query)
        return [(doc.metadata["id"], round(doc.metadata["bm25"], 5)) for doc in found]

    queries = ["restic backup nightly", "NO_PROXY 502 Ollama", "量化 模型 内存", "咖啡 水温"]
    for _ in ("first ingest", "after an edit and a delete"):
        rags = ingest_both()
        for query in queries:
            assert bm25_of(rags["postgres"], query) == bm25_of(rags["local"], query), query
        (docs / "proxy.md").unlink(missing_ok=True)
        (docs / "backup.md").write_text("# Backup\n\nrestic backup weekly, restic check monthly.")
