"""Incremental sync: add, edit, delete, rename, unchanged; the embedding cache; --no-prune."""

import json
from pathlib import Path

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from typer.testing import CliRunner

from app.cli.commands import cli
from app.config.settings import Settings, resolve_settings
from app.errors import ConfigError
from app.ingestion.loading import LoadedFile
from app.ingestion.plan import plan_ingest
from app.ingestion.run import IngestOptions, ingest_paths
from app.models.embedding_cache import EmbeddingCache
from retrievers.manifest import FileEntry
from retrievers.snapshot_store import SnapshotStore
from retrievers.vector_index import normalize, search_text
from tests.unit.conftest import (
    COUNTING_DIMENSION,
    CountingEmbeddings,
    ScriptedChatModel,
    write_files,
)

PARAGRAPHS = [f"Paragraph {n} says something about topic {n} in a few words." for n in range(6)]
GUIDE = "# Guide\n\n" + "\n\n".join(PARAGRAPHS) + "\n"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return resolve_settings(
        {"index_dir": tmp_path / "index", "chunk_size": 120, "chunk_overlap": 0}, {}, {}
    )


@pytest.fixture
def store(settings: Settings) -> SnapshotStore:
    return SnapshotStore(settings.index_dir)


@pytest.fixture
def docs(
    tmp_path: Path,
    settings: Settings,
    store: SnapshotStore,
    counting_embeddings: CountingEmbeddings,
) -> Path:
    """A folder with a multi-chunk guide and a note, ingested once."""
    root = write_files(tmp_path / "docs", {"guide.md": GUIDE, "note.md": "# Note\n\nA short note."})
    first = ingest_paths([root], store, settings, counting_embeddings)
    assert first.files_added == 2 and first.chunks_embedded == first.total_chunks > 3
    counting_embeddings.texts.clear()
    return root


def _sources(store: SnapshotStore) -> set[str]:
    return {str(r.metadata["source"]) for r in store.load().records}


def test_unchanged_folder_embeds_nothing_and_keeps_the_snapshot(
    docs: Path,
    settings: Settings,
    store: SnapshotStore,
    counting_embeddings: CountingEmbeddings,
) -> None:
    before = sorted(p.name for p in settings.index_dir.iterdir())
    current = (settings.index_dir / "CURRENT").read_text()
    report = ingest_paths([docs], store, settings, counting_embeddings)
    assert (report.files_unchanged, report.chunks_embedded, report.chunks_reused) == (2, 0, 0)
    assert counting_embeddings.texts == []
    assert sorted(p.name for p in settings.index_dir.iterdir()) == before
    assert (settings.index_dir / "CURRENT").read_text() == current


def test_an_added_file_is_embedded_alone(
    docs: Path,
    settings: Settings,
    store: SnapshotStore,
    counting_embeddings: CountingEmbeddings,
) -> None:
    (docs / "new.md").write_text("# New\n\nA brand new file.", encoding="utf-8")
    report = ingest_paths([docs], store, settings, counting_embeddings)
    assert (report.files_added, report.files_unchanged, report.chunks_embedded) == (1, 2, 1)
    assert counting_embeddings.texts == ["New\n\n# New\n\nA brand new file."]


def test_editing_one_paragraph_re_embeds_only_its_chunk(
    docs: Path,
    settings: Settings,
    store: SnapshotStore,
    counting_embeddings: CountingEmbeddings,
) -> None:
    edited = GUIDE.replace(PARAGRAPHS[3], "Paragraph 3 now says something else entirely.")
    (docs / "guide.md").write_text(edited, encoding="utf-8")
    report = ingest_paths([docs], store, settings, counting_embeddings)
    assert (report.files_updated, report.files_unchanged) == (1, 1)
    assert report.chunks_embedded == 1 == len(counting_embeddings.texts)
    assert "Paragraph 3 now says something else entirely." in counting_embeddings.texts[0]
    assert report.chunks_reused > 1
    texts = [r.text for r in store.load().records]
    assert not any(PARAGRAPHS[3] in text for text in texts)


def test_reused_vectors_are_the_vectors_of_their_text(
    docs: Path,
    settings: Settings,
    store: SnapshotStore,
    counting_embeddings: CountingEmbeddings,
) -> None:
    (docs / "guide.md").write_text(GUIDE.replace(PARAGRAPHS[0], "Changed."), encoding="utf-8")
    ingest_paths([docs], store, settings, counting_embeddings)
    index = store.load()
    fresh = CountingEmbeddings(size=COUNTING_DIMENSION)
    for row, record in enumerate(index.records):
        expected = normalize(fresh.embed_documents([search_text(record, "title")]))[0]
        assert index.vector(row).tolist() == pytest.approx(expected.tolist(), abs=1e-6)


def test_a_deleted_file_is_pruned(
    docs: Path,
    settings: Settings,
    store: SnapshotStore,
    counting_embeddings: CountingEmbeddings,
) -> None:
    (docs / "note.md").unlink()
    report = ingest_paths([docs], store, settings, counting_embeddings)
    assert (report.files_removed, report.files_unchanged, report.chunks_embedded) == (1, 1, 0)
    assert _sources(store) == {"guide.md"}


def test_no_prune_keeps_the_chunks_of_deleted_files(
    docs: Path,
    settings: Settings,
    store: SnapshotStore,
    counting_embeddings: CountingEmbeddings,
) -> None:
    (docs / "note.md").unlink()
    report = ingest_paths(
        [docs], store, settings, counting_embeddings, options=IngestOptions(prune=False)
    )
    assert (report.files_removed, report.files_missing_kept, report.total_files) == (0, 1, 2)
    assert "1 deleted files kept (--no-prune)" in report.summary()
    assert _sources(store) == {"guide.md", "note.md"}


def test_a_renamed_file_reuses_its_vectors(
    docs: Path,
    settings: Settings,
    store: SnapshotStore,
    counting_embeddings: CountingEmbeddings,
) -> None:
    (docs / "guide.md").rename(docs / "handbook.md")
    report = ingest_paths([docs], store, settings, counting_embeddings)
    assert (report.files_renamed, report.files_added, report.files_removed) == (1, 0, 0)
    assert report.chunks_embedded == 0 and report.chunks_reused > 3
    assert counting_embeddings.texts == []
    assert _sources(store) == {"handbook.md", "note.md"}
    assert "1 renamed" in report.summary()


def test_a_file_titled_by_its_name_is_re_embedded_after_a_rename(
    tmp_path: Path,
    settings: Settings,
    store: SnapshotStore,
    counting_embeddings: CountingEmbeddings,
) -> None:
    """Without a heading the file name is the title, which is part of the embedded text."""
    root = write_files(tmp_path / "plain", {"draft.txt": "Plain text without a heading."})
    ingest_paths([root], store, settings, counting_embeddings)
    counting_embeddings.texts.clear()
    (root / "draft.txt").rename(root / "final.txt")
    report = ingest_paths([root], store, settings, counting_embeddings)
    assert (report.files_renamed, report.chunks_embedded) == (1, 1)
    assert counting_embeddings.texts == ["final\n\nPlain text without a heading."]


def test_summary_names_every_kind_of_change(
    docs: Path,
    settings: Settings,
    store: SnapshotStore,
    counting_embeddings: CountingEmbeddings,
) -> None:
    (docs / "note.md").unlink()
    (docs / "extra.md").write_text("# Extra\n\nMore.", encoding="utf-8")
    summary = ingest_paths([docs], store, settings, counting_embeddings).summary()
    assert summary.startswith("Indexed 2 files")
    for part in ("1 added", "0 updated", "0 renamed", "1 removed", "1 unchanged", "skipped 0"):
        assert part in summary
    assert "1 chunks embedded (onnx-int8), 0 reused" in summary


def test_an_index_of_another_backend_asks_for_a_rebuild(
    docs: Path,
    settings: Settings,
    store: SnapshotStore,
    counting_embeddings: CountingEmbeddings,
) -> None:
    assert store.load().embedding.backend == "onnx-int8"
    with pytest.raises(ConfigError, match="RAG_EMBED_BACKEND=onnx-int8"):
        ingest_paths([docs], store, settings.replace(embed_backend="torch"), counting_embeddings)
    torch_settings = settings.replace(embed_backend="torch")
    rebuilt = ingest_paths(
        [docs], store, torch_settings, counting_embeddings, options=IngestOptions(rebuild=True)
    )
    assert rebuilt.backend == "torch"
    assert store.load().embedding.backend == "torch"


def _loaded(path: str, content_hash: str) -> LoadedFile:
    return LoadedFile(Path(path), Path(path).name, content_hash, 10, ())


def _entry(path: str, content_hash: str) -> FileEntry:
    return FileEntry(path, Path(path).name, content_hash, 1, 10)


def test_plan_tells_renames_from_copies_and_edits() -> None:
    previous = [_entry("/d/a.md", "h1"), _entry("/d/b.md", "h2"), _entry("/d/c.md", "h3")]
    loaded = [
        _loaded("/d/a2.md", "h1"),  # a.md renamed
        _loaded("/d/b.md", "h2b"),  # b.md edited
        _loaded("/d/c.md", "h3"),  # unchanged
        _loaded("/d/c-copy.md", "h3"),  # a copy of c.md: added, its vectors come from the cache
    ]
    plan = plan_ingest(previous, loaded, [Path("/d")], exists=lambda path: False)
    assert [(old.path, str(new.path)) for old, new in plan.renamed] == [("/d/a.md", "/d/a2.md")]
    assert (plan.added, plan.updated, plan.unchanged, plan.removed) == (1, 1, 1, [])


def test_plan_without_pruning_detects_no_rename() -> None:
    previous = [_entry("/d/a.md", "h1")]
    plan = plan_ingest(
        previous, [_loaded("/d/a2.md", "h1")], [Path("/d")], exists=lambda p: False, prune=False
    )
    assert (plan.added, plan.renamed, plan.missing_kept) == (1, [], 1)
    assert [entry.path for entry in plan.keep] == ["/d/a.md"]


def test_cache_embeds_each_distinct_missing_text_once() -> None:
    model = CountingEmbeddings(size=8)
    cache = EmbeddingCache()
    cache.add(["known"], model.embed_documents(["known"]))
    model.texts.clear()
    vectors, embedded = cache.embed(model, ["known", "new", "new", "other"])
    assert embedded == 2 and sorted(model.texts) == ["new", "other"]
    assert vectors.shape == (4, 8)
    assert vectors[1].tolist() == vectors[2].tolist()
    assert vectors[0].tolist() == pytest.approx(model.embed_documents(["known"])[0], abs=1e-6)


def test_cache_with_nothing_missing_never_builds_the_model() -> None:
    cache = EmbeddingCache()
    cache.add(["a"], DeterministicFakeEmbedding(size=4).embed_documents(["a"]))

    def factory() -> DeterministicFakeEmbedding:
        raise AssertionError("the model was built although every text was cached")

    vectors, embedded = cache.embed(factory, ["a", "a"])
    assert (vectors.shape, embedded) == ((2, 4), 0)


def test_cli_no_prune_and_json_report(tmp_path: Path, fake_models: ScriptedChatModel) -> None:
    runner = CliRunner()
    root = write_files(tmp_path / "docs", {"a.md": "# A\n\nalpha", "b.md": "# B\n\nbeta"})
    assert runner.invoke(cli, ["ingest", str(root)]).exit_code == 0
    (root / "b.md").unlink()
    kept = json.loads(runner.invoke(cli, ["ingest", str(root), "--no-prune", "--json"]).stdout)
    assert (kept["files_removed"], kept["files_missing_kept"], kept["total_files"]) == (0, 1, 2)
    pruned = json.loads(runner.invoke(cli, ["ingest", str(root), "--json"]).stdout)
    assert (pruned["files_removed"], pruned["total_files"], pruned["skipped"]) == (1, 1, [])
    assert {"files_added", "files_updated", "files_renamed", "files_unchanged"} <= set(pruned)


def test_an_index_from_before_backends_were_recorded_counts_as_torch(
    tmp_path: Path,
    settings: Settings,
    store: SnapshotStore,
    counting_embeddings: CountingEmbeddings,
) -> None:
    root = write_files(tmp_path / "old", {"a.md": "# A\n\nalpha"})
    torch_settings = settings.replace(embed_backend="torch")
    ingest_paths([root], store, torch_settings, counting_embeddings)
    manifest_path = next(settings.index_dir.glob("snapshot-*/manifest.json"))
    manifest = json.loads(manifest_path.read_text())
    del manifest["embedding"]["backend"]
    manifest_path.write_text(json.dumps(manifest))
    assert ingest_paths([root], store, torch_settings, counting_embeddings).files_unchanged == 1
    with pytest.raises(ConfigError, match="embedded with RAG_EMBED_BACKEND=torch"):
        ingest_paths([root], store, settings, counting_embeddings)
