"""Hard negatives: for each pair, a chunk that keyword search ranks high but is not its answer.

The other passages of a batch are mostly easy to tell apart from the answer; a passage of
another file that shares the query's words is what the model must learn to rank below the
right one. Near-duplicates of the answer (the same text kept twice, a copied paragraph) are
not wrong answers and are skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from app.tuning.pairs import TrainingPair, with_title, words
from retrievers.docstore import ChunkRecord
from retrievers.sparse import SparseIndex

CANDIDATES = 10
"""How deep in the keyword ranking a negative is looked for."""
NEAR_DUPLICATE = 0.6
"""Word-set overlap (Jaccard) with the answer at which a hit counts as the same text."""


class HardNegatives:
    """Finds, for a pair, the best BM25 hit for its query that is not an answer to it.

    Not its own chunk, not a near-copy of it, and with more than one file not a chunk of its
    own file (the chunks around an answer often answer as well). Built once over the chunks;
    each batch asks for its pairs' negatives as training reaches it, so a time budget also
    bounds the searching.
    """

    def __init__(self, records: Sequence[ChunkRecord]) -> None:
        """Index the chunks' words for keyword search."""
        self._records = list(records)
        self._index = SparseIndex.build([record.text for record in self._records])
        self._several_files = len({_source(record) for record in self._records}) > 1

    def pick(self, pair: TrainingPair, taken: frozenset[str] = frozenset()) -> TrainingPair:
        """``pair`` with a hard negative that is none of the ``taken`` chunks (if one is found).

        ``taken`` are the answers of the pair's batch: one of them as this pair's negative
        would also be a positive in the same batch.
        """
        answer = set(words(pair.passage))
        for row, _ in self._index.search(pair.query, CANDIDATES):
            record = self._records[row]
            if record.id == pair.chunk_id or record.id in taken:
                continue
            if self._several_files and _source(record) == pair.source:
                continue
            if _jaccard(answer, set(words(record.text))) >= NEAR_DUPLICATE:
                continue
            # Shaped like the answer: a title query's answer is the bare chunk, the others
            # carry their title, so the title alone never tells the two apart.
            title = "" if pair.kind == "title" else str(record.metadata.get("title") or "")
            text = with_title(title.strip(), record.text)
            return replace(pair, negative=text, negative_id=record.id)
        return pair

    def for_batch(self, batch: Sequence[TrainingPair]) -> list[TrainingPair]:
        """Every pair of a batch with its hard negative, none of them another pair's answer."""
        taken = frozenset(pair.chunk_id for pair in batch)
        return [self.pick(pair, taken) for pair in batch]


def _source(record: ChunkRecord) -> str:
    return str(record.metadata.get("source", ""))


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0
