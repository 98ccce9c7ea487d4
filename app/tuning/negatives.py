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


def with_hard_negatives(
    pairs: Sequence[TrainingPair], records: Sequence[ChunkRecord]
) -> list[TrainingPair]:
    """Each pair with the best BM25 hit for its query that is neither its chunk nor a copy.

    With more than one file, hits from the pair's own file are skipped too: the chunks around
    an answer often answer as well.
    """
    if len(records) < 2:
        return list(pairs)
    index = SparseIndex.build([record.text for record in records])
    several_files = len({_source(record) for record in records}) > 1
    mined: list[TrainingPair] = []
    for pair in pairs:
        answer = set(words(pair.passage))
        negative = None
        for row, _ in index.search(pair.query, CANDIDATES):
            record = records[row]
            if record.id == pair.chunk_id or (several_files and _source(record) == pair.source):
                continue
            if _jaccard(answer, set(words(record.text))) >= NEAR_DUPLICATE:
                continue
            negative = record
            break
        if negative is None:
            mined.append(pair)
            continue
        # Shaped like the answer: a title query's answer is the bare chunk, the others carry
        # their title, so the title alone never tells the two apart.
        title = "" if pair.kind == "title" else str(negative.metadata.get("title") or "")
        text = with_title(title.strip(), negative.text)
        mined.append(replace(pair, negative=text, negative_id=negative.id))
    return mined


def _source(record: ChunkRecord) -> str:
    return str(record.metadata.get("source", ""))


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0
