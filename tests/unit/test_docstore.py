"""The on-disk docstore: rows read on demand, old snapshots without offsets, damage found."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from retrievers.docstore import (
    DOCSTORE_FILE,
    OFFSETS_FILE,
    ChunkRecord,
    Docstore,
    DocstoreError,
    write_docstore,
)
from retrievers.errors import IndexDamagedError
from retrievers.manifest import Chunking, EmbeddingSpec
from retrievers.snapshot_store import SnapshotStore
from retrievers.snapshots import current_snapshot
from retrievers.vector_index import VectorIndex

RECORDS = [
    ChunkRecord(f"id{i}", f"chunk {i} ünïcödé 中文\nsecond line", {"source": f"f{i}.md", "i": i})
    for i in range(7)
]


def _written(folder: Path, records: list[ChunkRecord] = RECORDS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_docstore(folder, records)
    return folder


def test_rows_are_read_by_position_slice_and_in_order(tmp_path: Path) -> None:
    store = Docstore.open(_written(tmp_path / "s"))
    assert len(store) == len(RECORDS)
    assert store[3] == RECORDS[3]
    assert store[-1] == RECORDS[-1]
    assert store[2:5] == RECORDS[2:5]
    assert list(store) == RECORDS
    with pytest.raises(IndexError):
        store[len(RECORDS)]


def test_an_empty_docstore_has_no_rows(tmp_path: Path) -> None:
    store = Docstore.open(_written(tmp_path / "s", []))
    assert len(store) == 0
    assert list(store) == []


def test_a_snapshot_without_offsets_is_scanned(tmp_path: Path) -> None:
    folder = _written(tmp_path / "s")
    (folder / OFFSETS_FILE).unlink()
    assert list(Docstore.open(folder)) == RECORDS
    assert Docstore.open(folder)[4] == RECORDS[4]


def test_rows_stay_readable_after_the_folder_is_pruned(tmp_path: Path) -> None:
    folder = _written(tmp_path / "s")
    store = Docstore.open(folder)
    shutil.rmtree(folder)
    assert store[5] == RECORDS[5]
    assert list(store) == RECORDS


def test_a_cut_file_is_found_at_open(tmp_path: Path) -> None:
    folder = _written(tmp_path / "s")
    path = folder / DOCSTORE_FILE
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 10])
    with pytest.raises(DocstoreError, match="bytes where"):
        Docstore.open(folder)
    (folder / OFFSETS_FILE).unlink()  # an old snapshot: offsets come from a scan
    with pytest.raises(DocstoreError, match="line 7 is invalid"):
        Docstore.open(folder)


def test_a_grown_file_is_found_at_open(tmp_path: Path) -> None:
    folder = _written(tmp_path / "s")
    with open(folder / DOCSTORE_FILE, "ab") as handle:
        handle.write(b'{"id": "extra", "text": "", "metadata": {}}\n')
    with pytest.raises(DocstoreError, match="bytes where"):
        Docstore.open(folder)


def test_a_damaged_middle_row_is_reported_when_read_not_at_load(tmp_path: Path) -> None:
    """Loading reads no row but the first and last: a million chunks load in milliseconds."""
    spec = EmbeddingSpec("huggingface", "test-model", 4)
    vectors = np.random.default_rng(0).normal(size=(len(RECORDS), 4)).astype(np.float32)
    index_dir = tmp_path / "idx"
    chunking = Chunking(chunk_size=1000, chunk_overlap=100)
    SnapshotStore(index_dir).publish(VectorIndex.from_vectors(spec, chunking, RECORDS, vectors, []))
    snapshot = current_snapshot(index_dir)
    path = snapshot / DOCSTORE_FILE
    data = bytearray(path.read_bytes())
    middle = int(np.load(snapshot / OFFSETS_FILE)[3])
    data[middle] = ord("#")  # same length, row 4 no longer parses
    path.write_bytes(bytes(data))
    loaded = SnapshotStore(index_dir).load()
    assert loaded.records[2] == RECORDS[2]
    with pytest.raises(IndexDamagedError) as caught:
        loaded.records[3]
    message = str(caught.value)
    assert message.startswith(f"index at {index_dir} is damaged: {DOCSTORE_FILE} line 4 ")
    assert message.endswith("run `rag ingest --rebuild PATH`")
