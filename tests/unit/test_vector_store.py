"""IndexVectorStore: LangChain's standard vector-store suite and the index's own promises."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_tests.integration_tests import VectorStoreIntegrationTests
from pytest_socket import disable_socket, enable_socket

from app import Rag
from retrievers.errors import IndexBusyError, IndexMismatchError
from retrievers.snapshot_store import SnapshotStore
from retrievers.snapshots import CURRENT_FILE
from retrievers.vector_store import IndexVectorStore
from tests.unit.conftest import SAMPLE_FILES, ScriptedChatModel, write_files


@pytest.fixture(autouse=True)
def _offline() -> Iterator[None]:
    """The async tests' event loop needs its Unix socket pair; network sockets stay blocked."""
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()


class TestIndexVectorStoreStandard(VectorStoreIntegrationTests):
    """Sync and async: add, delete, get_by_ids and search as LangChain expects."""

    @pytest.fixture
    def vectorstore(self, tmp_path: Path) -> Iterator[IndexVectorStore]:  # type: ignore[override]
        yield IndexVectorStore(SnapshotStore(tmp_path / "index"), self.get_embeddings())


@pytest.fixture
def embeddings() -> DeterministicFakeEmbedding:
    return DeterministicFakeEmbedding(size=8)


@pytest.fixture
def store(tmp_path: Path, embeddings: DeterministicFakeEmbedding) -> IndexVectorStore:
    return IndexVectorStore.from_texts(
        ["apples are red", "bananas are yellow", "cherries are red", "dates are brown"],
        embeddings,
        [{"color": "red"}, {"color": "yellow"}, {"color": "red"}, {"color": "brown"}],
        ids=["a", "b", "c", "d"],
        index_dir=tmp_path / "index",
    )


def leftovers(index_dir: Path) -> list[str]:
    """Temporary folders a write left behind."""
    return [path.name for path in index_dir.iterdir() if path.name.startswith(".tmp-")]


def test_each_write_is_one_snapshot_and_another_process_sees_it(
    store: IndexVectorStore, tmp_path: Path, embeddings: DeterministicFakeEmbedding
) -> None:
    index_dir = tmp_path / "index"
    first = (index_dir / CURRENT_FILE).read_text().strip()
    store.add_texts(["elderberries are purple", "figs are green"], ids=["e", "f"])
    second = (index_dir / CURRENT_FILE).read_text().strip()
    assert second != first
    store.delete(["a", "b"])
    assert (index_dir / CURRENT_FILE).read_text().strip() not in (first, second)
    reader = IndexVectorStore(SnapshotStore(index_dir), embeddings)
    found = reader.get_by_ids(["a", "c", "e", "f"])
    assert [doc.id for doc in found] == ["c", "e", "f"]
    assert leftovers(index_dir) == []


def test_search_by_text_vector_score_and_filter(
    store: IndexVectorStore, embeddings: DeterministicFakeEmbedding
) -> None:
    best, score = store.similarity_search_with_score("cherries are red", k=1)[0]
    assert (best.id, best.page_content, best.metadata) == (
        "c",
        "cherries are red",
        {"color": "red"},
    )
    assert score == pytest.approx(1.0, abs=1e-5)
    by_vector = store.similarity_search_by_vector(embeddings.embed_query("dates are brown"), k=1)
    assert by_vector[0].id == "d"
    red = store.similarity_search("dates are brown", k=4, filter={"color": "red"})
    assert sorted(doc.id for doc in red) == ["a", "c"]
    predicate = store.similarity_search("x", k=4, filter=lambda meta: meta["color"] != "red")
    assert sorted(doc.id for doc in predicate) == ["b", "d"]
    relevance = store.similarity_search_with_relevance_scores("cherries are red", k=4)
    assert all(0.0 <= value <= 1.0 for _, value in relevance)


def test_mmr_picks_the_closest_then_unlike_ones(store: IndexVectorStore) -> None:
    store.add_texts(["cherries are red"], ids=["c2"], metadatas=[{"color": "red"}])
    picked = store.max_marginal_relevance_search("cherries are red", k=2, lambda_mult=0.25)
    assert picked[0].page_content == "cherries are red"
    assert picked[1].page_content != "cherries are red"  # the duplicate adds nothing new
    only_red = store.max_marginal_relevance_search("x", k=3, filter={"color": "red"})
    assert {doc.metadata["color"] for doc in only_red} == {"red"}


def test_an_id_given_again_replaces_its_chunk(store: IndexVectorStore) -> None:
    store.add_texts(["apples are green"], ids=["a"])
    assert store.get_by_ids(["a"])[0].page_content == "apples are green"
    assert len(store.similarity_search("x", k=10)) == 4


def test_another_embedding_model_is_refused(store: IndexVectorStore, tmp_path: Path) -> None:
    other = IndexVectorStore(
        SnapshotStore(tmp_path / "index"), DeterministicFakeEmbedding(size=8), model="other"
    )
    with pytest.raises(IndexMismatchError, match="settings ask for"):
        other.similarity_search("apples")
    with pytest.raises(IndexMismatchError):
        other.add_texts(["more"])


def test_a_write_waits_for_no_other_writer(store: IndexVectorStore) -> None:
    with store.store.writer_lock(), pytest.raises(IndexBusyError, match="another ingest"):
        store.add_texts(["blocked"])
    assert len(store.similarity_search("x", k=10)) == 4


def test_the_vector_store_serves_an_index_made_by_rag_ingest(
    tmp_path: Path, fake_models: ScriptedChatModel
) -> None:
    rag = Rag.from_settings(chunk_context="none")
    rag.ingest(write_files(tmp_path / "docs", SAMPLE_FILES))
    vectors = IndexVectorStore(
        rag.store,
        rag.embeddings,
        provider=rag.settings.embed_provider,
        model=rag.settings.embed_model,
    )
    backup = vectors.similarity_search(str(SAMPLE_FILES["backup.txt"]).strip(), k=1)[0]
    assert backup.metadata["source"] == "backup.txt"
    vectors.add_documents([Document("The printer is on the second floor.", id="printer")])
    vectors.delete([str(backup.id)])
    assert rag.retrieve("printer second floor", k=1)[0].id == "printer"
    assert [entry.source for entry in rag.documents()] == ["notes/page.html", "ollama.md"]
    retriever = vectors.as_retriever(search_kwargs={"k": 1})
    assert retriever.invoke("The printer is on the second floor.")[0].id == "printer"
