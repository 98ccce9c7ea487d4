"""How the answer model is prompted: the full prompt, or the one measured best for tiny models.

Tiny models (the embedded 135M SmolLM2) ramble and rarely cite, so they get a short answer
instruction, only the best sentences of each chunk, numbered without their file names (which
a tiny model copies as its answer), a stop sequence, a token cap and greedy
decoding without a repetition penalty (`benchmarks/answers.py` measures the choice: the
model restates the question, and a penalty then garbles the word it must copy again).
Larger models keep the full prompt: whole chunks and numbered citations.
"""

from __future__ import annotations

from pathlib import Path

from app.config.settings import DEFAULT_LLAMACPP_MODEL, Settings
from app.models.llms import GenerationLimits, LlmChoice
from chains.evidence import SentenceScorer, word_overlap
from chains.prompts import SMALL_QA_PROMPT
from chains.qa import AnswerStyle

SMALL_GGUF_BYTES = 500 * 1024 * 1024
"""GGUF files below this size (about 1B parameters at 4 bits) count as small models."""


SMALL_MODEL_LIMITS = GenerationLimits(
    max_tokens=48, repeat_penalty=1.0, stop=("\n\n",), temperature=0.0
)
"""Greedy and without repetition penalty: a tiny model answers by copying words of the
sources and the question, often twice, which a penalty garbles (benchmarks/answers.py)."""
SMALL_MODEL_SENTENCES_PER_CHUNK = 2


def is_small_model(settings: Settings, choice: LlmChoice, gguf_file: Path | None) -> bool:
    """Whether the answer model gets the small-model prompt (``RAG_LLM_PROMPT``).

    ``auto``: the embedded model, or a GGUF file (``gguf_file``) under ``SMALL_GGUF_BYTES``.
    """
    if settings.llm_prompt != "auto":
        return settings.llm_prompt == "small"
    if choice.provider != "llamacpp":
        return False
    if choice.model == DEFAULT_LLAMACPP_MODEL:
        return True
    return (
        gguf_file is not None
        and gguf_file.is_file()
        and gguf_file.stat().st_size < (SMALL_GGUF_BYTES)
    )


def answer_style(small: bool, scorer: SentenceScorer = word_overlap) -> AnswerStyle:
    """The small-model style (focused context, short answers) or the full prompt."""
    if not small:
        return AnswerStyle(scorer=scorer)
    return AnswerStyle(
        prompt=SMALL_QA_PROMPT,
        sentences_per_chunk=SMALL_MODEL_SENTENCES_PER_CHUNK,
        scorer=scorer,
        small_model=True,
        source_labels=False,
    )
