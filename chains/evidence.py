"""Evidence: the sentences of the retrieved chunks that best support an answer.

Small answer models often miss or garble the answer; the sentence that holds it is usually
in the retrieved text. A ``SentenceScorer`` rates each sentence against the question: by the
share of the question's search tokens it contains (stemmed English, segmented Chinese), by
embedding similarity, or both; the chunk's rank breaks ties.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from retrievers.sparse import tokenize

# Sentence ends, paragraph breaks, and line breaks before list items, headings or quotes;
# a single line break inside a paragraph (wrapped text) does not end a sentence.
_SENTENCE_END = re.compile(
    r"(?<=[.!?])\s+|(?<=[。！？；])|\n\s*\n\s*|\n(?=\s*(?:[-*+#>|]|\d+[.)])\s)"
)
_HEADING = re.compile(r"^\s*(?:#{1,6}\s|=+$|-+$)")
MIN_SENTENCE_CHARS = 6

SentenceScorer = Callable[[str, Sequence[str]], list[float]]
"""(question, sentences) -> one score a sentence, higher is better, 0 for no support."""


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


def word_overlap(question: str, texts: Sequence[str]) -> list[float]:
    """Share of the question's search tokens (stemmed, CJK segmented) each text contains."""
    wanted = set(tokenize(question))
    if not wanted:
        return [0.0] * len(texts)
    return [len(wanted & set(tokenize(text))) / len(wanted) for text in texts]


def embedding_similarity(embeddings: Embeddings) -> SentenceScorer:
    """Cosine similarity of each text to the question under ``embeddings`` (floored at 0)."""

    def score(question: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        vectors = embeddings.embed_documents(list(texts))
        query = embeddings.embed_query(question)
        return [max(0.0, _cosine(query, vector)) for vector in vectors]

    return score


def overlap_and_similarity(embeddings: Embeddings) -> SentenceScorer:
    """The mean of word overlap and embedding similarity."""
    similarity = embedding_similarity(embeddings)

    def score(question: str, texts: Sequence[str]) -> list[float]:
        pairs = zip(word_overlap(question, texts), similarity(question, texts), strict=True)
        return [(words + meaning) / 2 for words, meaning in pairs]

    return score


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norms = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norms if norms else 0.0


def quotes_for(
    question: str,
    docs: Sequence[Document],
    numbers: Sequence[int],
    scorer: SentenceScorer = word_overlap,
) -> list[Evidence]:
    """The best supporting sentence of each numbered source (1-based), where it has one."""
    quotes = []
    for number in numbers:
        if 1 <= number <= len(docs):
            found = select_evidence(question, [docs[number - 1]], limit=1, scorer=scorer)
            quotes += [replace(item, source_number=number) for item in found]
    return quotes


def candidate_sentences(text: str) -> list[tuple[int, int]]:
    """Spans of the sentences of ``text`` that can be evidence (no headings, not too short)."""
    return [
        (start, end)
        for start, end in sentences(text)
        if end - start >= MIN_SENTENCE_CHARS and not _HEADING.match(text[start:end])
    ]


def select_evidence(
    question: str,
    docs: Sequence[Document],
    limit: int = 3,
    scorer: SentenceScorer = word_overlap,
) -> list[Evidence]:
    """Up to ``limit`` sentences of ``docs`` that ``scorer`` rates best for the question."""
    found: list[Evidence] = []
    for number, doc in enumerate(docs, start=1):
        text = doc.page_content
        offset = int(doc.metadata.get("start_index") or 0)
        found += [
            Evidence(
                source=str(doc.metadata.get("source", "")),
                page=doc.metadata.get("page"),
                start=offset + start,
                end=offset + end,
                text=text[start:end],
                score=0.0,
                source_number=number,
            )
            for start, end in candidate_sentences(text)
        ]
    scores = scorer(question, [item.text for item in found]) if found else []
    ranked = sorted(
        (replace(item, score=round(score, 4)) for item, score in zip(found, scores, strict=True)),
        key=lambda item: (-item.score, item.source_number, item.start),
    )
    chosen: list[Evidence] = []
    for evidence in ranked:
        if evidence.score <= 0 or len(chosen) == limit:
            break
        if all(evidence.text != other.text for other in chosen):
            chosen.append(evidence)
    return chosen
