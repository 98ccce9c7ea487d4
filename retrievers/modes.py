"""The retrieval modes and fusion kinds, as types and as the lists settings and commands offer."""

from __future__ import annotations

from typing import Literal, get_args

Mode = Literal["hybrid", "dense", "bm25"]
"""hybrid: dense and BM25 fused; dense: embeddings only; bm25: words only."""
MODES: tuple[Mode, ...] = get_args(Mode)

Fusion = Literal["score", "rrf"]
"""score: weighted sum of max-normalised scores (the default); rrf: reciprocal rank fusion."""
FUSIONS: tuple[Fusion, ...] = get_args(Fusion)
