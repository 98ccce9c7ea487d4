"""Support check: whether each sentence of an answer is backed by the retrieved sources.

A sentence is supported when every number it states and every command in backticks occurs
in the sources and most of its content words (stemmed; Chinese segmented) do too. It is a
check on words, not meaning: it catches invented numbers, names and commands, the usual
failures of a small model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from langchain_core.documents import Document

from chains.evidence import sentences
from retrievers.sparse import tokenize

SUPPORTED_WORD_SHARE = 0.6
"""Share of a sentence's content words that must occur in the sources."""
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_CODE = re.compile(r"`([^`\n]+)`")
_CITATION = re.compile(r"\[\d+(?:\s*[,;]\s*\d+)*\]")


@dataclass(frozen=True)
class SentenceSupport:
    """One sentence of an answer and whether the sources back it."""

    text: str
    supported: bool
    missing: tuple[str, ...] = ()
    """Numbers and words of the sentence that no source has."""


def check_support(answer: str, docs: Sequence[Document]) -> list[SentenceSupport]:
    """Each sentence of ``answer`` checked against the texts of ``docs``."""
    source_text = "\n".join(doc.page_content for doc in docs)
    source_words = set(tokenize(source_text))
    checked = []
    for start, end in sentences(answer):
        text = answer[start:end]
        plain = _CITATION.sub("", text)
        numbers = [n for n in _NUMBER.findall(plain) if not _occurs(n, source_text)]
        # A command or name in backticks must stand in a source as it is written.
        numbers += [f"`{code}`" for code in _CODE.findall(plain) if code not in source_text]
        words = list(dict.fromkeys(tokenize(plain)))
        unknown = [w for w in words if w not in source_words and not _NUMBER.fullmatch(w)]
        share = 1 - len(unknown) / len(words) if words else 1.0
        supported = not numbers and share >= SUPPORTED_WORD_SHARE and bool(docs)
        checked.append(SentenceSupport(text, supported, tuple(numbers + unknown)))
    return checked


def _occurs(number: str, text: str) -> bool:
    """Whether ``number`` stands in ``text`` as a number of its own (not inside a longer one)."""
    return re.search(rf"(?<![\d.]){re.escape(number)}(?![\d]|[.,]\d)", text) is not None


def supported_share(checked: Sequence[SentenceSupport]) -> float:
    """The share of sentences the sources back (1.0 for an answer without sentences)."""
    return sum(item.supported for item in checked) / len(checked) if checked else 1.0
