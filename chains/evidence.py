"""Evidence: the sentences of the retrieved chunks that best support an answer.

Small answer models often miss or garble the answer; the sentence that holds it is usually
in the retrieved text. Sentences are scored by the share of the question's search tokens
they contain (stemmed English, segmented Chinese), with the chunk's rank as tie-break.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from langchain_core.documents import Document

from retrievers.sparse import tokenize

# Sentence ends, paragraph breaks, and line breaks before list items, headings or quotes;
# a single line break inside a paragraph (wrapped text) does not end a sentence.
_SENTENCE_END = re.compile(
    r"(?<=[.!?])\s+|(?<=[。！？；])|\n\s*\n\s*|\n(?=\s*(?:[-*+#>|]|\d+[.)])\s)"
)
_HEADING = re.compile(r"^\s*(?:#{1,6}\s|=+$|-+$)")
MIN_SENTENCE_CHARS = 6


@dataclass(frozen=True)
class Evidence:
    """A supporting sentence: where it is (file, page, character span) and how well it fits."""

    source: str
    page: int | None
    start: int
    end: int
    text: str
    score: float
    source_number: int

    @property
    def location(self) -> str:
        """``file`` or ``file:page`` followed by the character span."""
        where = f"{self.source}:{self.page}" if self.page is not None else self.source
        return f"{where} [{self.start}:{self.end}]"


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) spans of the sentences of ``text``, whitespace trimmed."""
    spans = []
    position = 0
    for match in [*_SENTENCE_END.finditer(text), None]:
        end = match.start() if match else len(text)
        piece = text[position:end]
        stripped = piece.strip()
        if stripped:
            start = position + piece.index(stripped[0])
            spans.append((start, start + len(stripped)))
        position = match.end() if match else len(text)
    return spans


def quotes_for(question: str, docs: Sequence[Document], numbers: Sequence[int]) -> list[Evidence]:
    """The best supporting sentence of each numbered source (1-based), where it has one."""
    quotes = []
    for number in numbers:
        if 1 <= number <= len(docs):
            found = select_evidence(question, [docs[number - 1]], limit=1)
            quotes += [replace(item, source_number=number) for item in found]
    return quotes


def select_evidence(question: str, docs: Sequence[Document], limit: int = 3) -> list[Evidence]:
    """Up to ``limit`` sentences of ``docs`` that share the most search words with the question."""
    wanted = set(tokenize(question))
    if not wanted:
        return []
    candidates: list[tuple[float, int, Evidence]] = []
    for number, doc in enumerate(docs, start=1):
        text = doc.page_content
        offset = int(doc.metadata.get("start_index") or 0)
        for start, end in sentences(text):
            sentence = text[start:end]
            if len(sentence) < MIN_SENTENCE_CHARS or _HEADING.match(sentence):
                continue
            overlap = len(wanted & set(tokenize(sentence))) / len(wanted)
            if overlap <= 0:
                continue
            evidence = Evidence(
                source=str(doc.metadata.get("source", "")),
                page=doc.metadata.get("page"),
                start=offset + start,
                end=offset + end,
                text=sentence,
                score=round(overlap, 4),
                source_number=number,
            )
            candidates.append((-overlap, number, evidence))
    candidates.sort(key=lambda item: (item[0], item[1], item[2].start))
    chosen: list[Evidence] = []
    for _, _, evidence in candidates:
        if all(evidence.text != other.text for other in chosen):
            chosen.append(evidence)
        if len(chosen) == limit:
            break
    return chosen
