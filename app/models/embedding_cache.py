"""Embed texts in length-sorted batches, reusing vectors of texts embedded before.

The cache is keyed by the hash of the exact text embedded (title and chunk); one cache
serves one embedding model and backend, so editing a paragraph re-embeds only the
chunks whose text changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from retrievers.vector_index import Vectors, text_key

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

EMBED_BATCH_SIZE = 64
Progress = Callable[[int, int], None]
"""Called with (texts embedded so far, texts to embed)."""


def embed_texts(
    embeddings: Embeddings, texts: Sequence[str], on_progress: Progress | None = None
) -> Vectors:
    """Embed in batches of similar length (less padding), returning rows in input order."""
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    rows: list[list[float]] = [[] for _ in texts]
    for start in range(0, len(order), EMBED_BATCH_SIZE):
        batch = order[start : start + EMBED_BATCH_SIZE]
        for position, vector in zip(
            batch, embeddings.embed_documents([texts[i] for i in batch]), strict=True
        ):
            rows[position] = list(vector)
        if on_progress is not None:
            on_progress(min(start + EMBED_BATCH_SIZE, len(texts)), len(texts))
    return np.asarray(rows, dtype=np.float32)


class EmbeddingCache:
    """Vectors by text key, for one embedding model and backend."""

    def __init__(self) -> None:
        """Start empty; ``add`` vectors known to belong to their texts."""
        self._vectors: dict[str, Vectors] = {}

    def __len__(self) -> int:
        """Number of distinct texts with a vector."""
        return len(self._vectors)

    def add(self, texts: Sequence[str], vectors: Vectors) -> None:
        """Remember ``vectors[i]`` as the vector of ``texts[i]``."""
        for text, vector in zip(texts, vectors, strict=True):
            self._vectors.setdefault(text_key(text), vector)

    def add_keyed(self, vectors: Mapping[str, Vectors]) -> None:
        """Remember vectors already keyed by ``text_key`` (a store's ``known_vectors``)."""
        for key, vector in vectors.items():
            self._vectors.setdefault(key, vector)

    def embed(
        self,
        embeddings: Embeddings | Callable[[], Embeddings],
        texts: Sequence[str],
        on_progress: Progress | None = None,
    ) -> tuple[Vectors, int]:
        """Vectors for ``texts`` in order, and how many distinct texts had to be embedded.

        Only texts without a cached vector reach the model (each distinct text once);
        ``embeddings`` may be a factory, called only when something needs embedding.
        """
        keys = [text_key(text) for text in texts]
        missing: dict[str, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in self._vectors:
                missing.setdefault(key, text)
        if missing:
            fresh = embed_texts(_resolve(embeddings), list(missing.values()), on_progress)
            self._vectors.update(zip(missing, fresh, strict=True))
        if not keys:
            return np.zeros((0, 0), dtype=np.float32), 0
        return np.stack([self._vectors[key] for key in keys]).astype(np.float32), len(missing)


def _resolve(embeddings: Embeddings | Callable[[], Embeddings]) -> Embeddings:
    from langchain_core.embeddings import Embeddings

    return embeddings if isinstance(embeddings, Embeddings) else embeddings()
