import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from app.cli.commands import cli
from app.config.settings import Settings, resolve_settings
from app.ingestion.reindexing import reindex
from app.ingestion.run import ingest_paths
from retrievers.docstore import ChunkRecord
from retrievers.errors import IndexDamagedError
from retrievers.index_types import (
    AUTO_FLAT_BELOW,
    AUTO_HNSW_BELOW,
    INDEX_TYPES,
    IVF_TRAIN_SAMPLE,
    index_spec_for,
    ivf_list_count,
    needs_rebuild,
    resolve_index_type,
)
from retrievers.manifest import Chunking, EmbeddingSpec, FileEntry
from retrievers.snapshot_store import MANIFEST_FILE, RAW_VECTORS_FILE, VECTORS_FILE, SnapshotStore
from retrievers.snapshots import current_snapshot
from retrievers.vector_index import VectorIndex, normalize
from tests.unit.conftest import SAMPLE_FILES, CountingEmbeddings, ScriptedChatModel, write_files

DIMENSION = 32
SPEC = EmbeddingSpec("huggingface", "test-model", DIMENSION)
CHUNKING = Chunking(chunk_size=1000, chunk_overlap=100)


def random_unit_vectors(count: int, seed: int) -> np.ndarray[Any, Any]:
    return normalize(np.random.default_rng(seed).normal(size=(count, DIMENSION)))


def topical_unit_vectors(count: int, seed: int) -> np.ndarray[Any, Any]:
    """Random vectors gathered around 40 random topics, as text embeddings are."""
    topics = np.random.default_rng(1234).normal(size=(40, DIMENSION))
    rng = np.random.default_rng(seed)
    return normalize(topics[rng.integers(0, 40, count)] + 0.6 * rng.normal(size=(count, DIMENSION)))


def _index(
    count: int, index_type: str, vector_dtype: str = "float32", seed: int = 0
) -> VectorIndex:
    records = [ChunkRecord(f"id{i}", f"chunk {i}", {"source": "f.md"}) for i in range(count)]
    files = [FileEntry("/docs/f.md", "f.md", "h", count, 10)]
    vectors = topical_unit_vectors(count, seed)
    return VectorIndex.from_vectors(
        SPEC, CHUNKING, records, vectors, files, index_type=index_type, vector_dtype=vector_dtype
    )


def _publish(index: VectorIndex, folder: Path) -> Path:
    """Make ``index`` the live one of a snapshot store at ``folder``; its snapshot folder."""
    SnapshotStore(folder).publish(index)
    return current_snapshot(folder)


def _top_ids(index: VectorIndex, queries: np.ndarray[Any, Any], k: int) -> list[list[str]]:
    return [[hit.record.id for hit in index.search(query.tolist(), k)] for query in queries]


@pytest.mark.parametrize("vector_dtype", ["float32", "float16"])
@pytest.mark.parametrize("index_type", INDEX_TYPES)
def test_each_type_round_trips_with_the_same_results(
    tmp_path: Path, index_type: str, vector_dtype: str
) -> None:
    index = _index(1500, index_type, vector_dtype)
    assert index.index_spec.type == index_type
    snapshot = _publish(index, tmp_path / "idx")
    loaded = SnapshotStore(tmp_path / "idx").load()
    assert loaded.index_spec == index.index_spec
    manifest = json.loads((snapshot / MANIFEST_FILE).read_text(encoding="utf-8"))
    assert manifest["index"]["type"] == index_type
    assert manifest["index"]["vector_dtype"] == vector_dtype
    assert manifest["index"]["params"] == index.index_spec.params
    stored = np.load(snapshot / RAW_VECTORS_FILE, allow_pickle=False)
    assert stored.dtype == np.dtype(vector_dtype)
    queries = random_unit_vectors(20, seed=7)
    for query in queries:
        before = [(h.record.id, h.score) for h in index.search(query.tolist(), 5)]
        after = [(h.record.id, h.score) for h in loaded.search(query.tolist(), 5)]
        assert [i for i, _ in before] == [i for i, _ in after]
        assert [s for _, s in before] == pytest.approx([s for _, s in after], abs=1e-6)
    # A chunk's own vector finds it first, with cosine 1 (to float16 precision).
    own = loaded.search(loaded.vector(42).tolist(), 1)[0]
    assert own.record.id == "id42"
    assert own.score == pytest.approx(1.0, abs=2e-3)


@pytest.mark.parametrize("index_type", ["hnsw", "ivf-sq8"])
def test_approximate_types_find_what_exact_search_finds(index_type: str) -> None:
    exact = _index(4000, "flat")
    approximate = _index(4000, index_type)
    queries = topical_unit_vectors(50, seed=3)
    truth = _top_ids(exact, queries, 10)
    found = _top_ids(approximate, queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, found, strict=True)])
    assert recall >= 0.95
    # Scores are exact cosines (re-scored from the stored vectors), best first.
    hits = approximate.search(queries[0].tolist(), 10)
    scores = [hit.score for hit in hits]
    assert scores == sorted(scores, reverse=True)
    rows = [int(hit.record.id[2:]) for hit in hits]
    expected = approximate.vectors()[rows] @ queries[0]
    assert scores == pytest.approx(expected.tolist(), abs=1e-5)


def test_float16_halves_the_stored_vectors_and_keeps_cosines(tmp_path: Path) -> None:
    single = _publish(_index(500, "flat", "float32"), tmp_path / "a")
    half = _publish(_index(500, "flat", "float16"), tmp_path / "b")
    half_size = (half / RAW_VECTORS_FILE).stat().st_size
    assert half_size < 0.55 * (single / RAW_VECTORS_FILE).stat().st_size
    query = random_unit_vectors(1, seed=9)[0]
    a = SnapshotStore(tmp_path / "a").load().vectors() @ query
    b = SnapshotStore(tmp_path / "b").load().vectors() @ query
    assert np.max(np.abs(a - b)) < 1e-3


def test_auto_picks_the_type_by_chunk_count() -> None:
    assert resolve_index_type("auto", 0) == "flat"
    assert resolve_index_type("auto", AUTO_FLAT_BELOW - 1) == "flat"
    assert resolve_index_type("auto", AUTO_FLAT_BELOW) == "hnsw"
    assert resolve_index_type("auto", AUTO_HNSW_BELOW - 1) == "hnsw"
    assert resolve_index_type("auto", AUTO_HNSW_BELOW) == "ivf-sq8"
    assert resolve_index_type("hnsw", 10) == "hnsw"
    assert resolve_index_type("ivf-sq8", 0) == "flat"  # nothing to cluster
    with pytest.raises(ValueError, match="unknown index type"):
        resolve_index_type("lsh", 10)


def test_ivf_lists_grow_with_the_square_root_and_stay_trainable() -> None:
    assert ivf_list_count(1) == 1
    assert ivf_list_count(1000) == 1000 // 39
    assert ivf_list_count(40_000) == 800  # 4 * sqrt(n)
    # At a million chunks the training sample (not n) bounds the clusters.
    assert ivf_list_count(1_000_000) == IVF_TRAIN_SAMPLE // 39
    params = index_spec_for("ivf-sq8", 1_000_000).params
    assert params == {"nlist": 2564, "nprobe": 641}


def test_a_rebuild_is_needed_for_another_type_dtype_or_parameters() -> None:
    flat = index_spec_for("flat", 100)
    assert not needs_rebuild(flat, 100, "flat", "float32")
    assert not needs_rebuild(flat, 100, "auto", "float32")  # auto is flat at 100 chunks
    assert needs_rebuild(flat, 100, "hnsw", "float32")
    assert needs_rebuild(flat, 100, "flat", "float16")
    clustered = index_spec_for("ivf-sq8", 1000)
    assert not needs_rebuild(clustered, 1000, "ivf-sq8", "float32")
    assert needs_rebuild(clustered, 40_000, "ivf-sq8", "float32")  # more chunks, more lists


def _settings(tmp_path: Path, **overrides: Any) -> Settings:
    return resolve_settings(
        {"index_dir": tmp_path / "index", "chunk_size": 200, "chunk_overlap": 20, **overrides},
        {},
        {},
    )


def _no_embedding() -> CountingEmbeddings:
    raise AssertionError("switching the index type must not embed anything")


def test_switching_type_rebuilds_from_stored_vectors_without_embedding(
    tmp_path: Path, counting_embeddings: CountingEmbeddings
) -> None:
    root = write_files(tmp_path / "docs", SAMPLE_FILES)
    store = SnapshotStore(tmp_path / "index")
    ingest_paths([root], store, _settings(tmp_path, index_type="flat"), counting_embeddings)
    flat = store.load()
    assert flat.index_spec.type == "flat"

    report = ingest_paths([root], store, _settings(tmp_path, index_type="hnsw"), _no_embedding)
    assert report.chunks_embedded == 0
    graph = store.load()
    assert graph.index_spec.type == "hnsw"
    assert list(graph.records) == list(flat.records)
    np.testing.assert_array_equal(graph.vectors(), flat.vectors())

    switched = reindex(store, _settings(tmp_path, index_type="ivf-sq8", vector_dtype="float16"))
    assert switched.rebuilt
    assert switched.index_dir == str(tmp_path / "index")
    assert "ivf-sq8" in switched.summary() and "nothing embedded" in switched.summary()
    clustered = store.load()
    assert clustered.index_spec.type == "ivf-sq8"
    np.testing.assert_allclose(clustered.vectors(), flat.vectors(), atol=1e-3)
    query = flat.vector(1)
    assert clustered.search(query.tolist(), 1)[0].record == flat.search(query.tolist(), 1)[0].record

    live = current_snapshot(tmp_path / "index")
    again = reindex(store, _settings(tmp_path, index_type="ivf-sq8", vector_dtype="float16"))
    assert not again.rebuilt
    assert current_snapshot(tmp_path / "index") == live
    assert counting_embeddings.embedded == len(flat)


def _damage_vectors(snapshot: Path, action: str) -> None:
    path = snapshot / RAW_VECTORS_FILE
    if action == "truncate":
        path.write_bytes(path.read_bytes()[:200])
    elif action == "delete":
        path.unlink()
    elif action == "garbage":
        path.write_bytes(b"not numpy at all")
    elif action == "reshape":
        np.save(path, np.zeros((3, DIMENSION), dtype=np.float32), allow_pickle=False)


@pytest.mark.parametrize(
    ("action", "reason"),
    [
        ("truncate", "vectors.npy is unreadable"),
        ("delete", "vectors.npy is missing"),
        ("garbage", "vectors.npy is unreadable"),
        ("reshape", "vectors.npy holds float32 (3, 32)"),
    ],
)
def test_damaged_vectors_file_is_reported_with_the_fix(
    tmp_path: Path, action: str, reason: str
) -> None:
    snapshot = _publish(_index(300, "hnsw"), tmp_path / "idx")
    _damage_vectors(snapshot, action)
    with pytest.raises(IndexDamagedError) as caught:
        SnapshotStore(tmp_path / "idx").load()
    message = str(caught.value)
    assert reason in message
    assert message.endswith("run `rag ingest --rebuild PATH`")


@pytest.mark.parametrize("index_type", ["hnsw", "ivf-sq8"])
def test_damaged_approximate_index_is_reported(tmp_path: Path, index_type: str) -> None:
    snapshot = _publish(_index(300, index_type), tmp_path / "idx")
    data = (snapshot / VECTORS_FILE).read_bytes()
    (snapshot / VECTORS_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexDamagedError, match=r"index\.faiss is unreadable"):
        SnapshotStore(tmp_path / "idx").load()


def test_a_version_1_snapshot_without_vectors_file_still_loads(tmp_path: Path) -> None:
    index = _index(50, "flat")
    snapshot = _publish(index, tmp_path / "idx")
    (snapshot / RAW_VECTORS_FILE).unlink()
    manifest = json.loads((snapshot / MANIFEST_FILE).read_text(encoding="utf-8"))
    manifest["format_version"] = 1
    del manifest["index"]
    (snapshot / MANIFEST_FILE).write_text(json.dumps(manifest), encoding="utf-8")
    loaded = SnapshotStore(tmp_path / "idx").load()
    assert loaded.index_spec.type == "flat"
    np.testing.assert_allclose(loaded.vectors(), index.vectors(), atol=1e-6)
    assert loaded.search(index.vector(7).tolist(), 1)[0].record.id == "id7"


def test_rag_reindex_switches_type_and_status_shows_it(
    tmp_path: Path, fake_models: ScriptedChatModel
) -> None:
    runner = CliRunner()
    root = write_files(tmp_path / "docs", SAMPLE_FILES)
    assert runner.invoke(cli, ["ingest", str(root)]).exit_code == 0
    assert "search     flat, float32 vectors" in runner.invoke(cli, ["status"]).stdout
    result = runner.invoke(cli, ["reindex", "--index-type", "hnsw", "--vector-dtype", "float16"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Rebuilt the index of ")
    assert "as hnsw (M=32, efConstruction=64, efSearch=192), float16 vectors" in result.stdout
    status = json.loads(runner.invoke(cli, ["status", "--json"]).stdout)
    assert status["index_type"].startswith("hnsw")
    asked = runner.invoke(cli, ["ask", "backup", "--retrieve-only", "--json"])
    assert json.loads(asked.stdout)["sources"][0]["source"] == "backup.txt"
