from pathlib import Path

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from app.config.settings import Settings, resolve_settings
from app.errors import ConfigError, IndexMismatchError, NothingIndexedError
from app.ingestion.run import IngestOptions, ingest_paths
from retrievers.manifest import Chunking
from retrievers.snapshot_store import SnapshotStore
from retrievers.vector_index import search_text
from tests.unit.conftest import SAMPLE_FILES, CountingEmbeddings, write_files


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return resolve_settings(
        {"index_dir": tmp_path / "index", "chunk_size": 200, "chunk_overlap": 20, "ocr": "off"},
        {},
        {},
    )


@pytest.fixture
def store(settings: Settings) -> SnapshotStore:
    return SnapshotStore(settings.index_dir)


def test_first_ingest_indexes_every_readable_file(
    tmp_path: Path,
    settings: Settings,
    store: SnapshotStore,
    counting_embeddings: CountingEmbeddings,
) -> None:
    root = write_files(tmp_path / "docs", SAMPLE_FILES)
    report = ingest_paths([root], store, settings, counting_embeddings)
    assert (report.total_files, report.files_added, report.unsupported) == (3, 3, 1)
    index = store.load()
    assert len(index) == report.total_chunks == counting_embeddings.embedded
    assert {r.metadata["source"] for r in index.records} == {
        "ollama.md",
        "backup.txt",
        "notes/page.html",
    }
    assert index.embedding.dimension == 16
    assert index.chunking == Chunking(chunk_size=200, chunk_overlap=20, context="title")
    assert index.chunking.context == "title"
    assert store.manifest().chunking.to_dict() == {
        "splitter": "recursive-character",
        "chunk_size": 200,
        "chunk_overlap": 20,
        "context": "title",
    }
    assert report.index_dir == str(settings.index_dir)
    assert "Indexed 3 files" in report.summary()
    assert "ignored 1 files of other types" in report.summary()


def test_reingest_embeds_only_what_changed(
    tmp_path: Path,
    settings: Settings,
    store: SnapshotStore,
    counting_embeddings: CountingEmbeddings,
) -> None:
    root = write_files(tmp_path / "docs", SAMPLE_FILES)
    ingest_paths([root], store, settings, counting_embeddings)
    first_snapshot = sorted(p.name for p in settings.index_dir.iterdir())

    counting_embeddings.texts.clear()
    unchanged = ingest_paths([root], store, settings, counting_embeddings)
    assert (unchanged.files_unchanged, unchanged.chunks_embedded) == (3, 0)
    assert sorted(p.name for p in settings.index_dir.iterdir()) == first_snapshot

    (root / "backup.txt").write_text("The backup now runs at 04:00.", encoding="utf-8")
    (root / "ollama.md").unlink()
    changed = ingest_paths([root], store, settings, counting_embeddings)
    assert (changed.files_updated, changed.files_unchanged, changed.files_removed) == (1, 1, 1)
    assert counting_embeddings.embedded == changed.chunks_embedded == 1
    index = store.load()
    texts = [r.text for r in index.records]
    assert "The backup now runs at 04:00." in texts
    assert not any("11434" in t for t in texts)


def test_other_folders_stay_in_the_index(
    tmp_path: Path,
    settings: Settings,
    store: SnapshotStore,
    counting_embeddings: CountingEmbeddings,
) -> None:
    first = write_files(tmp_path / "a", {"one.md": "first folder"})
    second = write_files(tmp_path / "b", {"two.md": "second folder"})
    ingest_paths([first], store, settings, counting_embeddings)
    report = ingest_paths([second], store, settings, counting_embeddings)
    assert report.total_files == 2
    rebuilt = ingest_paths(
        [second], store, settings, counting_embeddings, options=IngestOptions(rebuild=True)
    )
    assert rebuilt.total_files == 1


def test_a_broken_file_keeps_what_was_indexed_before(
    tmp_path: Path,
    settings: Settings,
    store: SnapshotStore,
    counting_embeddings: CountingEmbeddings,
) -> None:
    root = write_files(tmp_path / "docs", {"a.md": "alpha text", "b.md": "beta text"})
    ingest_paths([root], store, settings, counting_embeddings)
    (root / "b.md").write_bytes(b"\x00\x00 now binary")
    report = ingest_paths([root], store, settings, counting_embeddings)
    assert [s.reason for s in report.skipped] == ["binary file (contains NUL bytes)"]
    index = store.load()
    assert sorted(r.text for r in index.records) == ["alpha text", "beta text"]


def test_nothing_to_index_is_an_error(
    tmp_path: Path, settings: Settings, store: SnapshotStore
) -> None:
    root = write_files(tmp_path / "docs", {"picture.png": b"\x89PNG"})
    with pytest.raises(NothingIndexedError, match="nothing to index"):
        ingest_paths([root], store, settings, DeterministicFakeEmbedding(size=8))


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"chunk_size": 300}, ConfigError, "rag ingest --rebuild"),
        (
            {"chunk_context": "section"},
            ConfigError,
            "RAG_CHUNK_CONTEXT=title; run `rag ingest --rebuild",
        ),
        ({"embed_model": "other"}, IndexMismatchError, "rag ingest --rebuild"),
    ],
)
def test_a_changed_chunking_or_model_asks_for_a_rebuild(
    tmp_path: Path,
    settings: Settings,
    store: SnapshotStore,
    counting_embeddings: CountingEmbeddings,
    change: dict[str, str | int],
    error: type[Exception],
    message: str,
) -> None:
    root = write_files(tmp_path / "docs", {"a.md": "alpha"})
    ingest_paths([root], store, settings, counting_embeddings)
    with pytest.raises(error, match=message):
        ingest_paths([root], store, settings.replace(**change), counting_embeddings)


def test_section_context_is_embedded_and_searchable(
    tmp_path: Path,
    settings: Settings,
    store: SnapshotStore,
    counting_embeddings: CountingEmbeddings,
) -> None:
    guide = "# Guide\n\n## Installation\n\n### Windows\n\nRun the installer and reboot once.\n"
    root = write_files(tmp_path / "docs", {"guide.md": guide})
    ingest_paths([root], store, settings.replace(chunk_context="section"), counting_embeddings)
    index = store.load()
    assert index.chunking.context == "section"
    record = next(r for r in index.records if "installer" in r.text)
    assert record.metadata["section"] == "Guide > Installation > Windows"
    embedded = search_text(record, "section")
    assert embedded.startswith("Guide > Installation > Windows\n\n### Windows")
    assert embedded in counting_embeddings.texts
    assert index.sparse is not None
    hits = index.sparse.search("windows installation", 1)
    assert [index.records[row].id for row, _ in hits] == [record.id]


def test_an_index_inside_the_ingested_folder_is_not_ingested(
    tmp_path: Path, counting_embeddings: CountingEmbeddings
) -> None:
    root = write_files(tmp_path / "data", {"a.md": "alpha text"})
    settings = resolve_settings({"index_dir": root / "index"}, {}, {})
    store = SnapshotStore(settings.index_dir)
    ingest_paths([root], store, settings, counting_embeddings)
    again = ingest_paths([root], store, settings, counting_embeddings)
    assert (again.total_files, again.unsupported, again.files_unchanged) == (1, 0, 1)
