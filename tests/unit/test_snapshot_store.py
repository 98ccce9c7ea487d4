"""The local snapshot store keeps the store contract."""

from __future__ import annotations

from pathlib import Path

from retrievers.snapshot_store import RAW_VECTORS_FILE, SnapshotStore
from retrievers.snapshots import current_snapshot
from retrievers.store import IndexStore
from tests.contracts.store_contract import IndexStoreContract


class TestSnapshotStore(IndexStoreContract):
    def make_store(self, tmp_path: Path) -> IndexStore:
        return SnapshotStore(tmp_path / "index")

    def reopen(self, store: IndexStore) -> IndexStore:
        assert isinstance(store, SnapshotStore)
        return SnapshotStore(store.index_dir)

    def damage(self, store: IndexStore) -> None:
        assert isinstance(store, SnapshotStore)
        vectors = current_snapshot(store.index_dir) / RAW_VECTORS_FILE
        vectors.write_bytes(vectors.read_bytes()[:100])

    def stored_bytes(self, store: IndexStore) -> list[bytes]:
        assert isinstance(store, SnapshotStore)
        return [path.read_bytes() for path in store.index_dir.rglob("*") if path.is_file()]
