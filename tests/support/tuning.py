"""A real ``rag tune`` teacher over a few records, without an index: exact dense search."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from app.models.embeddings import resolve_embedding_model
from app.tuning.teacher import HybridTeacher
from retrievers.docstore import ChunkRecord

BASE = "sentence-transformers/all-MiniLM-L6-v2"


@lru_cache(maxsize=1)
def base_model() -> Any:
    """The default MiniLM from its package, as sentence-transformers loads it."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(resolve_embedding_model(BASE), device="cpu")


def teacher_over(records: Sequence[ChunkRecord]) -> HybridTeacher:
    """A teacher whose dense half searches the records' base-model vectors exactly."""
    model = base_model()
    vectors = model.encode([record.text for record in records], normalize_embeddings=True)

    def search(query: np.ndarray, k: int) -> list[tuple[int, float]]:
        scores = vectors @ query[0]
        return [(int(row), float(scores[row])) for row in np.argsort(-scores)[:k]]

    return HybridTeacher(records, search, model)
