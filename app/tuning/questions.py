"""Questions written by a capable answer model, one a chunk, as training pairs.

The writer reads a window of a few sentences of the chunk (about ``WINDOW_CHARS``), not the
whole chunk: the prompt is a third as long, so a CPU model writes about twice the questions
in the same time, and the questions ask about every part of a chunk rather than its opening.
The pair is the question against the whole chunk. Writing stops at a deadline, so the time
budget of ``rag tune`` holds with a slow model.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from app.tuning.pairs import MIN_PASSAGE_WORDS, TrainingPair, sentences, words
from chains.questions import build_question_chain
from retrievers.docstore import ChunkRecord

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

MAX_QUESTIONS = 2000
WINDOW_CHARS = 600
"""About how much of a chunk the writer reads (whole sentences, so a little more)."""
BATCH = 4
"""Passages sent at once (a server answers them together); the deadline is checked between."""


def question_pairs(
    records: Sequence[ChunkRecord],
    llm: BaseChatModel,
    *,
    seed: int,
    deadline: float | None = None,
    limit: int = MAX_QUESTIONS,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[TrainingPair]:
    """Questions for up to ``limit`` chunks (chosen by ``seed``), until ``deadline`` passes.

    ``deadline`` is a ``time.perf_counter()`` value; the questions written by then are kept.
    """
    usable = [record for record in records if len(words(record.text)) >= MIN_PASSAGE_WORDS]
    rng = random.Random(seed)
    chosen = rng.sample(usable, min(limit, len(usable)))
    chain = build_question_chain(llm)
    pairs: list[TrainingPair] = []
    for start in range(0, len(chosen), BATCH):
        if deadline is not None and time.perf_counter() >= deadline:
            break
        group = chosen[start : start + BATCH]
        inputs = [{"passage": passage_window(record.text, rng)} for record in group]
        for question, record in zip(chain.batch(inputs), group, strict=True):
            if len(words(question)) >= 3:
                pairs.append(
                    TrainingPair(question, record.text, "question", record.id, _source(record))
                )
        if on_progress is not None:
            on_progress(start + len(group), len(chosen))
    return pairs


def passage_window(text: str, rng: random.Random, size: int = WINDOW_CHARS) -> str:
    """Consecutive whole sentences of ``text`` from a random one, about ``size`` characters."""
    parts = sentences(text)
    if len(text) <= size or len(parts) < 2:
        return text
    first = rng.randrange(len(parts))
    while first > 0 and len(" ".join(parts[first:])) < size:
        first -= 1  # near the end: start earlier rather than read less
    picked: list[str] = []
    for part in parts[first:]:
        picked.append(part)
        if len(" ".join(picked)) >= size:
            break
    return " ".join(picked)


def _source(record: ChunkRecord) -> str:
    return str(record.metadata.get("source", ""))
