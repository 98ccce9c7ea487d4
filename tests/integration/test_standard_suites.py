"""LangChain's standard test suites, run against our own LangChain classes with real models."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

import pytest
from langchain_tests.integration_tests import RetrieversIntegrationTests

from app import Rag
from retrievers.hybrid import HybridRetriever
from tests.conftest import DATA_DIR

pytestmark = pytest.mark.integration


@cache
def _sample_rag() -> Rag:
    """The sample documents indexed once with the real MiniLM, retrieval only."""
    index_dir = Path(mkdtemp(prefix="ragkit-standard-")) / "index"
    rag = Rag.from_settings(index_dir=index_dir, llm_provider="none")
    rag.ingest(DATA_DIR)
    return rag


class TestHybridRetrieverStandard(RetrieversIntegrationTests):
    """``HybridRetriever`` behaves as LangChain expects of any retriever (k, invoke, ainvoke)."""

    @property
    def retriever_constructor(self) -> type[HybridRetriever]:
        return HybridRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        rag = _sample_rag()
        return {"index": rag.index(), "embeddings": rag.embeddings, "k": 4}

    @property
    def retriever_query_example(self) -> str:
        return "How do I import a GGUF model into Ollama?"
