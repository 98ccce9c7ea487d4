"""Dense retrieval over a ``VectorIndex`` as a LangChain retriever."""

from __future__ import annotations

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from retrievers.vector_index import SearchHit, VectorIndex


def hit_to_document(hit: SearchHit) -> Document:
    """A search hit as a Document whose metadata carries its id and score."""
    metadata = {**hit.record.metadata, "id": hit.record.id, "score": hit.score}
    return Document(page_content=hit.record.text, metadata=metadata, id=hit.record.id)


class DenseRetriever(BaseRetriever):
    """Embeds the query and returns the ``k`` most similar chunks, best first."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: VectorIndex
    embeddings: Embeddings
    k: int = 4

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        vector = self.embeddings.embed_query(query)
        return [hit_to_document(hit) for hit in self.index.search(vector, self.k)]
