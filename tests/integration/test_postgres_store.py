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
