"""The contract every index store keeps; a store's tests subclass ``IndexStoreContract``.

A subclass gives a fresh, empty store (``make_store``), a second handle on the same data
(``reopen``), and two hooks that need to know how the store keeps its data: ``damage`` and
``stored_bytes``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from retrievers.docstore import ChunkRecord
from retrievers.errors import (
    IndexBusyError,
    IndexDamagedError,
    IndexMismatchError,
    IndexNotFoundError,
)
from retrievers.manifest import Chunking, EmbeddingSpec, FileEntry
from retrievers.store import IndexStore
from retrievers.vector_index import VectorIndex

DIMENSION = 8
SPEC = EmbeddingSpec("huggingface", "contract-model", DIMENSION, backend="onnx-int8")
CHUNKING = Chunking(chunk_size=500, chunk_overlap=50, context="title")
PICKLE_MARKERS = (b"\x80\x04\x95", b"\x80\x05\x95", b"cnumpy", b"ccopy_reg")


def make_index(count: int, seed: int = 0, index_type: str = "flat") -> VectorIndex:
    """An index of ``count`` chunks of two files with random vectors."""
    rng = np.random.default_rng(seed)
    records = [
        ChunkRecord(
            f"chunk-{seed}-{i}",
            f"Passage {i} of index {seed}: the backup runs at {i:02d}:30.",
            {"source": f"file-{i % 2}.md", "path": f"/docs/file-{i % 2}.md", "title": "Notes"},
        )
        for i in range(count)
    ]
    files = [
        FileEntry(f"/docs/file-{n}.md", f"file-{n}.md", f"hash-{seed}-{n}", 1, 10) for n in (0, 1)
    ]
    vectors = rng.normal(size=(count, DIMENSION)).astype(np.float32)
    return VectorIndex.from_vectors(SPEC, CHUNKING, records, vectors, files, index_type=index_type)


class BreaksWhileWritten(Sequence[ChunkRecord]):
    """Records that fail part-way through being written, like a crash in mid-publish."""

    def __init__(self, records: Sequence[ChunkRecord], fail_after: int) -> None:
        self._records = list(records)
        self._fail_after = fail_after

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, row: Any) -> Any:
        return self._records[row]

    def __iter__(self) -> Iterator[ChunkRecord]:
        for number, record in enumerate(self._records):
            if number == self._fail_after:
                raise OSError("disk full (simulated)")
            yield record


class IndexStoreContract:
    """What ingest, sync, eval and every interface rely on, for any store."""

    def make_store(self, tmp_path: Path) -> IndexStore:
        raise NotImplementedError

    def reopen(self, store: IndexStore) -> IndexStore:
        """Another handle on the same data, as a second process would open it."""
        raise NotImplementedError

    def damage(self, store: IndexStore) -> None:
        """Corrupt the live index's stored vectors or texts."""
        raise NotImplementedError

    def stored_bytes(self, store: IndexStore) -> list[bytes]:
        """Everything the store has persisted, as raw bytes."""
        raise NotImplementedError

    @pytest.fixture
    def store(self, tmp_path: Path) -> IndexStore:
        return self.make_store(tmp_path)

    def test_an_empty_store_says_there_is_no_index_yet(self, store: IndexStore) -> None:
        for read in (store.version, store.manifest, store.load, store.verify):
            with pytest.raises(IndexNotFoundError, match="rag ingest"):
                read()

    def test_round_trip_keeps_records_vectors_and_manifest(self, store: IndexStore) -> None:
        index = make_index(6)
        store.publish(index)
        loaded = self.reopen(store).load()
        assert [r.id for r in loaded.records] == [r.id for r in index.records]
        assert [r.text for r in loaded.records] == [r.text for r in index.records]
        assert loaded.records[3].metadata == index.records[3].metadata
        np.testing.assert_allclose(loaded.vectors(), index.vectors(), atol=1e-6)
        assert loaded.manifest == index.manifest
        assert store.manifest() == index.manifest == store.verify()
        assert loaded.sparse is not None and loaded.sparse.size == 6
        assert store.size_bytes() > 0

    def test_a_search_on_the_loaded_index_finds_the_same_chunks(self, store: IndexStore) -> None:
        index = make_index(20, index_type="hnsw")
        store.publish(index)
        query = index.vectors()[7]
        assert [h.record.id for h in store.load().search(query, 3)] == [
            h.record.id for h in index.search(query, 3)
        ]

    def test_each_publish_is_a_new_version(self, store: IndexStore) -> None:
        store.publish(make_index(3, seed=1))
        first = store.version()
        store.publish(make_index(4, seed=2))
        assert store.version() != first
        assert len(self.reopen(store).load()) == 4

    def test_a_failed_publish_leaves_the_previous_index(self, store: IndexStore) -> None:
        store.publish(make_index(3, seed=1))
        version = store.version()
        broken = make_index(5, seed=2)
        broken.records = BreaksWhileWritten(broken.records, fail_after=2)
        with pytest.raises(OSError, match="disk full"):
            store.publish(broken)
        assert store.version() == version
        loaded = self.reopen(store).load()
        assert [r.id for r in loaded.records] == [f"chunk-1-{i}" for i in range(3)]

    def test_damaged_data_is_an_index_damaged_error(self, store: IndexStore) -> None:
        store.publish(make_index(5))
        self.damage(store)
        with pytest.raises(IndexDamagedError, match="rag ingest --rebuild"):
            self.reopen(store).load()

    def test_an_index_of_another_model_is_refused(self, store: IndexStore) -> None:
        store.publish(make_index(3))
        loaded = store.load()
        loaded.check_embedding("huggingface", "contract-model")
        with pytest.raises(IndexMismatchError, match="contract-model"):
            loaded.check_embedding("huggingface", "another-model")

    def test_nothing_is_pickled(self, store: IndexStore) -> None:
        store.publish(make_index(4))
        for data in self.stored_bytes(store):
            assert not any(marker in data for marker in PICKLE_MARKERS)

    def test_one_writer_at_a_time(self, store: IndexStore) -> None:
        other = self.reopen(store)

        def write_with_the_other_handle() -> None:
            with other.writer_lock(0.0):
                pass

        with store.writer_lock(), pytest.raises(IndexBusyError, match="another ingest"):
            write_with_the_other_handle()
        write_with_the_other_handle()  # free again once the first writer is done
