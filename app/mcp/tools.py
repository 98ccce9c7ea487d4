"""What each MCP tool does, over ``Rag`` only; plain data in the CLI's JSON shapes.

The MCP wiring (``app.mcp.server``) turns these into tools with schemas; any ``RagError``
raised here becomes a tool error with its one-line message.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.answers import SearchOptions
from app.errors import UsageError
from app.serve.uploads import confined_path

if TYPE_CHECKING:
    from app.api import Rag
    from retrievers.modes import Mode


class RagTools:
    """The tools' work: search, answer, list, read a passage, describe and (maybe) ingest."""

    def __init__(self, rag: Rag, roots: Sequence[Path] = ()) -> None:
        """Serve ``rag``; ``roots`` are the folders ``ingest_path`` may read (none: no ingest)."""
        self.rag = rag
        self.roots = tuple(root.expanduser().resolve() for root in roots)
        self._answering = threading.Lock()  # one generation at a time (llama.cpp)
        self._writing = threading.Lock()

    def search_documents(
        self, query: str, k: int = 5, source: str | None = None, mode: Mode | None = None
    ) -> dict[str, Any]:
        """The passages closest to the query, best first."""
        if not query.strip():
            raise UsageError("the query is empty")
        options = SearchOptions(k=k, mode=mode, source_glob=source or None)
        passages = self.rag.retrieve(query, options)
        return {"query": query, "passages": [passage.to_dict() for passage in passages]}

    def answer_question(self, question: str) -> dict[str, Any]:
        """An answer from the documents with its sources, evidence and support."""
        if not question.strip():
            raise UsageError("the question is empty")
        with self._answering:
            answer = self.rag.ask(question)
        data = answer.to_dict()
        if self.rag.llm_choice.provider == "none":  # retrieval only, as `rag ask --json` says
            data["answer"] = None
        return data

    def list_documents(self) -> dict[str, Any]:
        """The files in the index."""
        return {"documents": [entry.to_dict() for entry in self.rag.documents()]}

    def get_passage(self, chunk_id: str) -> dict[str, Any]:
        """One indexed chunk by its id."""
        return self.rag.passage(chunk_id).to_dict()

    def index_status(self) -> dict[str, Any]:
        """The index: files, chunks, embedding model, size, when it was built."""
        return self.rag.status().to_dict()

    def ingest_path(self, path: str) -> dict[str, Any]:
        """Index a file or folder inside the roots (as ``rag serve`` confines its ingests)."""
        if not self.roots:
            raise UsageError("ingesting is off: start the server with --allow-ingest --root FOLDER")
        target = confined_path(path, self.roots)
        with self._writing:
            return self.rag.ingest(target).to_dict()
