"""LangChain handles over any search function: a retriever and a tool an agent can call.

``Rag.as_retriever`` and ``Rag.as_tool`` pass their own search here, so both follow the
live index (a new ingest is seen by the next call) and report errors as ``Rag`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

Search = Callable[[str], list[Document]]
"""The chunks for a query, best first, with ``source``, ``page`` and ``score`` in metadata."""

SEARCH_TOOL_NAME = "search_documents"
SEARCH_TOOL_DESCRIPTION = (
    "Search the user's own indexed documents and return the passages closest to the query, "
    "each with its source file, page and chunk id. Use it to find facts before answering a "
    "question about those documents, and cite the sources it returns."
)


class SearchRetriever(BaseRetriever):
    """A LangChain retriever that calls a search function for every query."""

    search: Search

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return self.search(query)


def format_passages(documents: Sequence[Document]) -> str:
    """Numbered passages, each headed by where it is from, for a model to read and cite."""
    if not documents:
        return "No passage of the indexed documents matches the query."
    blocks = []
    for number, doc in enumerate(documents, start=1):
        metadata = doc.metadata
        where = str(metadata.get("source") or "unknown source")
        if metadata.get("page") is not None:
            where += f", page {metadata['page']}"
        chunk_id = metadata.get("id") or doc.id
        if chunk_id:
            where += f", chunk {chunk_id}"
        if isinstance(metadata.get("score"), float):
            where += f", score {metadata['score']:.3f}"
        blocks.append(f"[{number}] {where}\n{doc.page_content.strip()}")
    return "\n\n".join(blocks)


class SearchQuery(BaseModel):
    """The arguments of the search tool."""

    query: str = Field(description="What to look for, in the words of the documents if known.")


def search_tool(
    search: Search,
    name: str = SEARCH_TOOL_NAME,
    description: str = SEARCH_TOOL_DESCRIPTION,
) -> BaseTool:
    """A tool returning formatted passages (content) and the documents found (artifact)."""

    def run(query: str) -> tuple[str, list[Document]]:
        documents = search(query)
        return format_passages(documents), documents

    return StructuredTool.from_function(
        func=run,
        name=name,
        description=description,
        args_schema=SearchQuery,
        response_format="content_and_artifact",
    )


def question_and_history(value: Any) -> tuple[str, list[Any]]:
    """The question and earlier turns of an answer chain's input: a string or a mapping."""
    if isinstance(value, str):
        return value, []
    if isinstance(value, dict) and isinstance(value.get("question"), str):
        return value["question"], list(value.get("history") or [])
    raise ValueError("the answer chain takes a question or {'question': ..., 'history': [...]}")
