"""The PostgreSQL store keeps the store contract, on a real server with pgvector."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


def test_section_context_is_searched_alike_in_postgres_and_locally(
    tmp_path: Path, postgres_url: str
) -> None:
    from app import Rag
    from app.config.settings import resolve_settings
    from app.ingestion.run import ingest_paths
    from app.retrieval import build_store
    from tests.unit.conftest import COUNTING_DIMENSION, CountingEmbeddings, write_files

    guide = "# Guide\n\n## Installation\n\n### Windows\n\nRun the installer and reboot.\n"
    docs = write_files(tmp_path / "docs", {"guide.md": guide, "other.md": "# Other\n\nReboot."})
    embeddings = CountingEmbeddings(size=COUNTING_DIMENSION)
    found = {}
    for kind, overrides in {
        "local": {"index_dir": tmp_path / "index"},
        "postgres": {"store": "postgres", "postgres_url": postgres_url},
    }.items():
        settings = resolve_settings({**overrides, "chunk_context": "section"}, {}, {})
        store = build_store(settings)
        ingest_paths([docs], store, settings, embeddings)
        hits = Rag(settings, embeddings=embeddings, store=store).retriever(k=2, mode="bm25")
        found[kind] = [
            (doc.metadata["section"], round(doc.metadata["bm25"], 5))
            for doc in hits.invoke("installation reboot")
        ]
    assert found["postgres"] == found["local"]
    assert found["local"][0][0] == "Guide > Installation > Windows"


def test_float16_vectors_are_kept_as_halfvec_and_searched(
    tmp_path: Path, postgres_url: str
) -> None:
    import psycopg

    from app import Rag
    from app.config.settings import resolve_settings
    from app.ingestion.run import ingest_paths
    from app.retrieval import build_store
    from tests.unit.conftest import COUNTING_DIMENSION, CountingEmbeddings, write_files

    docs = write_files(tmp_path / "docs", {"a.md": "# A\n\nThe restic backup runs nightly."})
    overrides = {"store": "postgres", "postgres_url": postgres_url, "vector_dtype": "float16"}
    settings = resolve_settings(overrides, {}, {})
    store = build_store(settings)
    embeddings = CountingEmbeddings(size=COUNTING_DIMENSION)
    ingest_paths([docs], store, settings, embeddings)
    assert isinstance(store, PostgresStore)
    with psycopg.connect(postgres_url) as connection:
        column = connection.execute(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attname = 'embedding'",
            (store.tables.chunks,),
        ).fetchone()
    assert column == (f"halfvec({COUNTING_DIMENSION})",)
    assert store.manifest().index.vector_dtype == "float16"
    hits = Rag(settings, embeddings=embeddings, store=store).retrieve("restic backup", k=1)
    assert hits[0].source == "a.md" and -1.0 <= hits[0].score <= 1.0


def test_a_database_without_pgvector_is_a_clear_error(postgres_server: Any) -> None:
    import uuid

    from retrievers.errors import StoreUnavailableError

    name = f"noext_{uuid.uuid4().hex[:6]}"
    postgres_server.psql(f"CREATE DATABASE {name}")
    postgres_server.psql(f"CREATE ROLE {name} LOGIN")
    url = postgres_server.url_of(name).replace("postgres@", f"{name}@")
    with pytest.raises(StoreUnavailableError, match=r"no pgvector extension.*CREATE EXTENSION"):
        PostgresStore(url).manifest()
