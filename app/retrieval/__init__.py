"""The store and the retriever the settings describe: the one place that reads RAG_INDEX_DIR."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.config.settings import Settings
from app.models.embeddings import reads_cjk
from app.models.rerankers import build_reranker

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from retrievers.hybrid import HybridRetriever, SearchableIndex
    from retrievers.modes import Mode
    from retrievers.snapshot_store import SnapshotStore
    from retrievers.store import IndexStore


def build_store(settings: Settings) -> IndexStore:
    """The store that holds the settings' index: the local snapshot folder."""
    return local_store(settings.index_dir)


def local_store(index_dir: Path) -> SnapshotStore:
    """A snapshot store at a given folder (``rag eval --index`` keeps its corpus index there)."""
    from retrievers.snapshot_store import SnapshotStore

    return SnapshotStore(index_dir)


def build_retriever(
    settings: Settings,
    index: SearchableIndex,
    embeddings: Embeddings | None,
    *,
    k: int | None = None,
    mode: Mode | None = None,
    **options: Any,
) -> HybridRetriever:
    """The retriever the settings describe over ``index`` (options: source_glob, mmr, ...)."""
    from retrievers.hybrid import HybridRetriever

    return HybridRetriever(
        index=index,
        embeddings=embeddings,
        k=k or settings.top_k,
        mode=mode or settings.retrieval_mode,
        rrf_k=settings.rrf_k,
        fusion=settings.fusion,
        dense_reads_cjk=reads_cjk(settings.embed_model),
        reranker=build_reranker(settings.rerank_model),
        **options,
    )
