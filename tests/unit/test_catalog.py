"""What is in the index: files, passages by id, the chunks of a file, and forgetting files."""

from pathlib import Path

import pytest

from app import Rag
from app.errors import NotInIndexError, exit_code_of, http_status_of
from tests.unit.conftest import SAMPLE_FILES, ScriptedChatModel, write_files


@pytest.fixture
def rag(tmp_path: Path, fake_models: ScriptedChatModel) -> Rag:
    instance = Rag.from_settings(min_score=-1.0, chunk_context="none")
    instance.ingest(write_files(tmp_path / "docs", SAMPLE_FILES))
    return instance


def test_documents_lists_every_file_with_its_chunks(rag: Rag) -> None:
    files = rag.documents()
    assert [item.source for item in files] == ["backup.txt", "notes/page.html", "ollama.md"]
    assert sum(item.chunks for item in files) == rag.status().chunks
    assert all(item.content_hash and Path(item.path).is_absolute() for item in files)


def test_passage_finds_a_retrieved_chunk_by_its_id(rag: Rag) -> None:
    hit = rag.retrieve("When does the backup run?", k=1)[0]
    passage = rag.passage(hit.id)
    assert (passage.source, passage.chunk, passage.text) == (hit.source, hit.chunk, hit.text)


def test_an_unknown_chunk_or_file_is_not_in_the_index(rag: Rag) -> None:
    with pytest.raises(NotInIndexError, match="no chunk 'nope'") as error:
        rag.passage("nope")
    assert (http_status_of(error.value), exit_code_of(error.value)) == (404, 1)
    with pytest.raises(NotInIndexError, match=r"missing\.txt is not in the index"):
        rag.chunks_of("missing.txt")


def test_chunks_of_a_file_are_in_order(rag: Rag) -> None:
    source = rag.documents()[0].source
    chunks = rag.chunks_of(source)
    assert [chunk.chunk for chunk in chunks] == list(range(len(chunks)))
    assert {chunk.source for chunk in chunks} == {source}


def test_forget_removes_a_file_from_the_index_but_not_from_disk(rag: Rag) -> None:
    before = rag.status()
    gone = rag.documents()[0]
    report = rag.forget([gone.source])
    assert report.removed == (gone.source,)
    assert report.chunks_removed == gone.chunks
    assert report.summary().startswith(f"Removed 1 file ({gone.chunks} chunks)")
    assert gone.source not in {item.source for item in rag.documents()}
    assert rag.status().chunks == before.chunks - gone.chunks
    assert Path(gone.path).exists()
    assert all(hit.source != gone.source for hit in rag.retrieve("backup", k=10))


def test_forget_by_path_on_disk_and_the_last_file(rag: Rag) -> None:
    paths = [item.path for item in rag.documents()]
    report = rag.forget(paths)
    assert (report.files_left, report.chunks_left) == (0, 0)
    assert rag.documents() == []
    assert rag.retrieve("backup") == []


def test_forget_an_unknown_name_changes_nothing(rag: Rag) -> None:
    before = rag.store.version()
    known = rag.documents()[0].source
    with pytest.raises(NotInIndexError, match=r"not in the index at .*: nope\.txt"):
        rag.forget([known, "nope.txt"])
    assert rag.store.version() == before
