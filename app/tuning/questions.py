"""Questions written by a capable answer model, one a chunk, as training pairs."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

from app.tuning.pairs import MIN_PASSAGE_WORDS, TrainingPair, words
from chains.questions import build_question_chain
from retrievers.docstore import ChunkRecord

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

MAX_QUESTIONS = 2000


def question_pairs(
    records: Sequence[ChunkRecord],
    llm: BaseChatModel,
    *,
    seed: int,
    limit: int = MAX_QUESTIONS,
) -> list[TrainingPair]:
    """Up to ``limit`` chunks (chosen by ``seed``), each with the question the model wrote."""
    usable = [record for record in records if len(words(record.text)) >= MIN_PASSAGE_WORDS]
    chosen = random.Random(seed).sample(usable, min(limit, len(usable)))
    chain = build_question_chain(llm)
    questions = chain.batch([{"passage": record.text} for record in chosen])
    return [
        TrainingPair(question, record.text, "question", record.id, _source(record))
        for question, record in zip(questions, chosen, strict=True)
        if len(words(question)) >= 3
    ]


def _source(record: ChunkRecord) -> str:
    return str(record.metadata.get("source", ""))
