import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from retrievers.docstore import ChunkRecord
from retrievers.errors import IndexDamagedError, IndexMismatchError, IndexNotFoundError
from retrievers.manifest import Chunking, EmbeddingSpec, FileEntry
from retrievers.snapshot_store import SnapshotStore
from retrievers.snapshots import CURRENT_FILE, current_snapshot, publish_snapshot
from retrievers.vector_index import VectorIndex, search_text

SPEC = EmbeddingSpec("huggingface", "test-model", 8)
CHUNKING = Chunking(chunk_size=100, chunk_overlap=10)


def _index(count: int = 5, seed: int = 0) -> VectorIndex:
    rng = np.random.default_rng(seed)
    records = [
        ChunkRecord(
            f"id{i}", f"text {i} ünïcödé 中文", {"source": f"f{i}.md", "page": None, "chunk": i}
        )
        for i in range(count)
    ]
    files = [FileEntry(f"/docs/f{i}.md", f"f{i}.md", f"h{i}", 1, 10) for i in range(count)]
    vectors = rng.normal(size=(count, 8)).astype(np.float32)
    return VectorIndex.from_vectors(SPEC, CHUNKING, records, vectors, files)


def _publish(index: VectorIndex, folder: Path) -> Path:
    """Make ``index`` the live one of a snapshot store at ``folder``; its snapshot folder."""
    SnapshotStore(folder).publish(index)
    return current_snapshot(folder)


def _load(folder: Path) -> VectorIndex:
    return SnapshotStore(folder).load()


def test_round_trip_keeps_records_and_search_results(tmp_path: Path) -> None:
    index = _index()
    _publish(index, tmp_path / "idx")
    loaded = _load(tmp_path / "idx")
    assert list(loaded.records) == list(index.records)
    assert loaded.files == index.files
    assert loaded.chunking == CHUNKING
    query = np.random.default_rng(1).normal(size=8).tolist()
    before = [(hit.record.id, round(hit.score, 6)) for hit in index.search(query, 3)]
    after = [(hit.record.id, round(hit.score, 6)) for hit in loaded.search(query, 3)]
    assert before == after
    assert len(before) == 3


def test_scores_are_cosine_similarities() -> None:
    index = _index()
    vector = index.vectors()[2]
    hits = index.search((vector * 5).tolist(), 1)
    assert hits[0].record.id == "id2"
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)


def test_snapshot_holds_no_pickle(tmp_path: Path) -> None:
    snapshot = _publish(_index(), tmp_path / "idx")
    assert sorted(p.name for p in snapshot.iterdir()) == [
        "bm25",
        "docstore.jsonl",
        "docstore.offsets.npy",
        "index.faiss",
        "manifest.json",
        "vectors.npy",
    ]
    assert {p.suffix for p in (snapshot / "bm25").iterdir()} == {".json", ".npy"}
    manifest = json.loads((snapshot / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["embedding"] == {
        "provider": "huggingface",
        "model": "test-model",
        "dimension": 8,
        "normalization": "l2",
        "backend": "",
    }
    assert manifest["index"] == {"type": "flat", "params": {}, "vector_dtype": "float32"}
    assert manifest["chunking"] == {
        "chunk_size": 100,
        "chunk_overlap": 10,
        "context": "none",
        "splitter": "recursive-character",
    }
    assert manifest["chunk_count"] == 5
    assert manifest["format_version"] == 2
    stored = np.load(snapshot / "vectors.npy", allow_pickle=False)
    assert stored.shape == (5, 8)


def test_publishing_swaps_atomically_and_prunes_old_snapshots(tmp_path: Path) -> None:
    folder = tmp_path / "idx"
    first = _publish(_index(3), folder)
    second = _publish(_index(4), folder)
    assert current_snapshot(folder) == second
    assert first.is_dir()  # the previous snapshot stays for readers that resolved it
    third = _publish(_index(5), folder)
    assert not first.exists()
    assert {p.name for p in folder.iterdir() if p.is_dir()} == {second.name, third.name}
    assert len(_load(folder)) == 5


def test_a_failed_write_leaves_the_previous_index(tmp_path: Path) -> None:
    folder = tmp_path / "idx"
    _publish(_index(3), folder)

    def crash(target: Path) -> None:
        (target / "index.faiss").write_bytes(b"partial")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        publish_snapshot(folder, crash)
    assert len(_load(folder)) == 3
    assert not [p for p in folder.iterdir() if p.name.startswith(".tmp-")]


def test_leftovers_of_a_dead_writer_are_removed(tmp_path: Path) -> None:
    folder = tmp_path / "idx"
    _publish(_index(3), folder)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    leftover = folder / f".tmp-{dead.stdout.strip()}-20260101T000000-dead"
    leftover.mkdir()
    (leftover / "index.faiss").write_bytes(b"half")
    _publish(_index(4), folder)
    assert not leftover.exists()


def test_missing_index_says_to_ingest(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="run `rag ingest PATH` first"):
        _load(tmp_path / "nothing")


def test_other_embedding_model_is_refused_with_the_fix() -> None:
    index = _index()
    with pytest.raises(IndexMismatchError) as caught:
        index.check_embedding("huggingface", "other-model")
    message = str(caught.value)
    assert "huggingface:test-model (8d)" in message
    assert "RAG_EMBED_MODEL=test-model" in message
    assert "rag ingest --rebuild" in message
    with pytest.raises(IndexMismatchError, match="16 dimensions"):
        index.search([0.1] * 16, 2)


def _damage(folder: Path, name: str, action: str) -> None:
    path = current_snapshot(folder) / name
    if action == "truncate":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif action == "delete":
        path.unlink()
    elif action == "garbage":
        path.write_text("{not json", encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "action", "reason"),
    [
        ("index.faiss", "truncate", "index.faiss is unreadable"),
        ("index.faiss", "delete", "index.faiss is missing"),
        ("manifest.json", "garbage", "manifest.json is invalid"),
        ("manifest.json", "delete", "manifest.json is missing"),
        ("docstore.jsonl", "garbage", "docstore.jsonl line 1 is invalid"),
        ("docstore.jsonl", "truncate", "docstore"),
    ],
)
def test_damage_is_reported_with_the_fix(
    tmp_path: Path, name: str, action: str, reason: str
) -> None:
    folder = tmp_path / "idx"
    _publish(_index(5), folder)
    _damage(folder, name, action)
    with pytest.raises(IndexDamagedError) as caught:
        _load(folder)
    message = str(caught.value)
    assert message.startswith(f"index at {folder} is damaged: ")
    assert reason in message
    assert message.endswith("run `rag ingest --rebuild PATH`")


def test_pointer_to_a_missing_snapshot_is_damage(tmp_path: Path) -> None:
    folder = tmp_path / "idx"
    _publish(_index(2), folder)
    (folder / CURRENT_FILE).write_text("snapshot-gone\n", encoding="utf-8")
    with pytest.raises(IndexDamagedError, match="missing snapshot"):
        _load(folder)


def test_a_planted_pickle_is_never_loaded(tmp_path: Path) -> None:
    folder = tmp_path / "idx"
    snapshot = _publish(_index(2), folder)
    marker = tmp_path / "pwned"
    payload = b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."
    for name in ("index.pkl", "docstore.pkl", "index.pickle"):
        (snapshot / name).write_bytes(payload)
        (folder / name).write_bytes(payload)
    assert len(_load(folder)) == 2
    assert not marker.exists()
    assert os.listdir(tmp_path).count("pwned") == 0


@pytest.mark.parametrize(
    ("context", "title", "section", "text", "expected"),
    [
        ("none", "Guide", "Guide > Setup", "Run it.", "Run it."),
        ("title", "Guide", "Guide > Setup", "Run it.", "Guide\n\nRun it."),
        ("title", "Guide", "", "Guide: run it.", "Guide: run it."),
        ("section", "Guide", "Guide > Setup", "Run it.", "Guide > Setup\n\nRun it."),
        (
            "section",
            "notes.md",
            "Setup > Windows",
            "Run it.",
            "notes.md\nSetup > Windows\n\nRun it.",
        ),
        ("section", "Guide", "", "Run it.", "Guide\n\nRun it."),
        ("section", "", "Setup", "Run it.", "Setup\n\nRun it."),
    ],
)
def test_search_text_puts_the_chunk_context_in_front(
    context: str, title: str, section: str, text: str, expected: str
) -> None:
    metadata = {"title": title, **({"section": section} if section else {})}
    assert search_text(ChunkRecord("c", text, metadata), context) == expected
