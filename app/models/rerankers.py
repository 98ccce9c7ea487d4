"""An optional cross-encoder that reorders the best candidates of a search."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from app.errors import ProviderError, first_line
from app.models.packages import import_or_hint
from app.models.quiet import quiet_transformers

if TYPE_CHECKING:
    from retrievers.hybrid import Reranker


def build_reranker(model: str) -> Reranker | None:
    """A sentence-transformers CrossEncoder as a reranker, or None when no model is set."""
    if not model:
        return None
    return _cached_reranker(model)


@lru_cache(maxsize=2)
def _cached_reranker(model: str) -> Reranker:
    CrossEncoder = import_or_hint("sentence_transformers", "CrossEncoder", "sentence-transformers")
    quiet_transformers()
    try:
        encoder = CrossEncoder(model, device="cpu")
    except (OSError, ValueError) as error:
        raise ProviderError(
            f"cannot load reranker {model!r} ({first_line(error)}); set RAG_RERANK_MODEL to a "
            "local folder or a hub id you can download, or leave it empty"
        ) from error

    def score(query: str, passages: Sequence[str]) -> Sequence[float]:
        return [float(x) for x in encoder.predict([(query, text) for text in passages])]

    return score
