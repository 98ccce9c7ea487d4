"""The teacher: the hybrid search's scores, which the tuned model learns to reproduce.

Keyword and dense search together rank better than the dense model alone (SciFact nDCG@10
0.737 against 0.657): BM25 knows which of a collection's rare words matter, the base model
what a passage is about. For each training query the teacher finds the passages hybrid
search ranks highest (the query's own passage aside) and scores every passage of a batch as
the hybrid does: the base model's cosine over the best cosine plus BM25 over the best BM25
(``retrievers.hybrid.fuse_scores``), put back into cosine units. The student learns that
distribution; it needs no label, and a near-duplicate of the answer is scored as one rather
than pushed away. (Distilling a sparse retriever into a dense one: SPAR, Chen et al. 2022;
learning a teacher's scores of generated queries: GPL, Wang et al. 2022.)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.tuning.pairs import TrainingPair, with_title
from retrievers.docstore import ChunkRecord
from retrievers.hybrid import fuse_scores
from retrievers.sparse import SparseIndex, bm25_score, tokenize

CANDIDATES = 3
"""Passages the hybrid ranks high that each query brings into its batch besides its own."""
SEARCH_DEPTH = 30
"""How deep each of the two rankings is read to find them."""

DenseSearch = Callable[[Any, int], list[tuple[int, float]]]
"""(normalised query vector, shape (1, dimension); k) -> up to k (row, cosine), best first."""


@dataclass(frozen=True)
class Batch:
    """The queries of a batch and every passage they are scored against (answers first)."""

    queries: list[str]
    passages: list[str]


class HybridTeacher:
    """Scores queries against passages as hybrid search does, with the base model's cosines."""

    def __init__(
        self, records: Sequence[ChunkRecord], dense_search: DenseSearch, base_model: Any
    ) -> None:
        """Index the chunks' words; ``base_model`` is a sentence-transformers model, not trained."""
        self._records = list(records)
        self._dense_search = dense_search
        self._model = base_model
        self._sparse = SparseIndex.build([record.text for record in self._records])
        counts = [Counter(tokenize(record.text)) for record in self._records]
        self._document_frequency: Counter[str] = Counter()
        for count in counts:
            self._document_frequency.update(count.keys())
        lengths = [sum(count.values()) for count in counts]
        self._average_length = sum(lengths) / max(1, len(lengths))

    def batch(self, pairs: Sequence[TrainingPair]) -> Batch:
        """The pairs' queries, their answers, then each one's best hybrid hits that are not."""
        answers = {pair.chunk_id for pair in pairs}
        vectors = self.encode([pair.query for pair in pairs])
        passages = [pair.passage for pair in pairs]
        taken: set[int] = set()
        for pair, vector in zip(pairs, vectors, strict=True):
            found = 0
            for row in self._hybrid_rows(pair.query, vector):
                record = self._records[row]
                if record.id in answers or row in taken:
                    continue
                title = "" if pair.kind == "title" else str(record.metadata.get("title") or "")
                passages.append(with_title(title.strip(), record.text))
                taken.add(row)
                found += 1
                if found == CANDIDATES:
                    break
        return Batch([pair.query for pair in pairs], passages)

    def logits(self, batch: Batch, scale: float) -> Any:
        """The teacher's score of every (query, passage) of a batch, as a torch matrix."""
        import torch

        cosines = self.encode(batch.queries) @ self.encode(batch.passages).T
        lexical = np.array(
            [[self._bm25(query, passage) for passage in batch.passages] for query in batch.queries]
        )
        best_cosine = np.maximum(cosines.max(axis=1, keepdims=True), 1e-6)
        best_bm25 = lexical.max(axis=1, keepdims=True)
        fused = cosines / best_cosine
        fused = np.where(best_bm25 > 0, (fused + lexical / np.maximum(best_bm25, 1e-6)) / 2, fused)
        return torch.tensor(scale * best_cosine * fused, dtype=torch.float32)

    def encode(self, texts: Sequence[str]) -> Any:
        """Normalised base-model vectors of texts."""
        return self._model.encode(
            list(texts), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )

    def _hybrid_rows(self, query: str, vector: Any) -> list[int]:
        cosines = dict(self._dense_search(vector[None, :], SEARCH_DEPTH))
        lexical = dict(self._sparse.search(query, SEARCH_DEPTH))
        rows = sorted(set(cosines) | set(lexical))
        return [row for row, _ in fuse_scores(rows, cosines, lexical, (1.0, 1.0))]

    def _bm25(self, query: str, passage: str) -> float:
        return bm25_score(
            tokenize(query),
            Counter(tokenize(passage)),
            self._document_frequency,
            len(self._records),
            self._average_length,
        )
