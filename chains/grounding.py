"""Grounded answers: a sentence the sources say, with the direct answer marked inside it.

A tiny answer model often garbles what it copies. The sentence of the sources that best
answers the question is shown instead, and within it the short answer: the span of words
that fits what the question asks for (a date for "when", a number for "how many", a name
for "who", ...), near the words the question and the sentence share, preferring words the
model itself wrote when it wrote any.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from langchain_core.documents import Document

from chains.evidence import Evidence, candidate_sentences
from retrievers.sparse import tokenize

_WORD = re.compile(r"[\w$](?:[\w'’.,%$–—-]|(?<=\d):(?=\d))*[\w%$]|[\w$%]", re.UNICODE)
_TIMES = frozenset(
    [
        "daily",
        "nightly",
        "weekly",
        "monthly",
        "yearly",
        "morning",
        "evening",
        "night",
        "noon",
        "midnight",
        "today",
        "tomorrow",
        "yesterday",
        "hourly",
    ]
)
_CAUSAL = re.compile(
    r"\b(because|since|due to|caused|causes|as a result|so that|in order to|therefore|thus)\b",
    re.IGNORECASE,
)
_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_NUMBER_WORDS = frozenset(
    [
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "twenty",
        "thirty",
        "forty",
        "fifty",
        "hundred",
        "thousand",
        "million",
        "billion",
        "dozen",
        "half",
    ]
)
_FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "by",
        "with",
        "from",
        "and",
        "or",
        "as",
        "is",
        "was",
        "were",
        "are",
        "be",
        "been",
        "its",
        "it",
        "his",
        "her",
        "their",
        "this",
        "that",
        "which",
        "who",
        "whom",
        "whose",
        "what",
        "when",
        "where",
        "why",
        "how",
        "than",
        "then",
        "also",
    ]
)
MAX_SPAN_WORDS = 6


@dataclass(frozen=True)
class Span:
    """Characters ``start:end`` of a text, and the words there."""

    start: int
    end: int
    text: str


def question_kind(question: str) -> str:
    """What the question asks for: reason, date, number, person, place, entity or thing."""
    words = question.lower().split()
    text = " ".join(words)
    if re.search(r"\bwhy\b|\bhow come\b|\bwhat (causes|caused|makes|made)\b", text):
        return "reason"
    if re.search(r"\b(what|which) (year|decade|century|date|day|month)\b|\bwhen\b", text):
        return "date"
    if re.search(
        r"\bhow (many|much|long|old|far|big|large|high|tall)\b"
        r"|\bwhat (percentage|number|amount|port)\b",
        text,
    ):
        return "number"
    if re.search(r"\bwho\b|\bwhom\b|\bwhose\b|\bwhat (was|is) (the )?name\b", text):
        return "person"
    if re.search(
        r"\bwhere\b|\b(what|which) (city|country|state|place|region|river|continent)\b", text
    ):
        return "place"
    if re.match(r"(what|which) (?!is|was|are|were|did|does|do|kind|type|sort)\w+", text):
        return "entity"
    return "thing"


def words_of(text: str) -> list[Span]:
    """The words of ``text`` with their character spans (punctuation at the edges trimmed)."""
    return [Span(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]


def _is_number(word: str) -> bool:
    return bool(re.search(r"\d", word)) or word.lower() in _NUMBER_WORDS


def _is_date(word: str) -> float:
    lowered = word.lower().strip(".,")
    if lowered in _MONTHS or re.fullmatch(r"\d{3,4}s?([–—-]\d{2,4})?|\d{1,2}:\d{2}", lowered):
        return 1.0
    if lowered in _TIMES:
        return 0.7
    return 0.5 if re.fullmatch(r"\d{1,2}(th|st|nd|rd)?", lowered) else 0.0


def _is_name(word: str) -> bool:
    return word[:1].isupper()


def _fits(kind: str, word: str) -> float:
    match kind:
        case "date":
            return _is_date(word)
        case "number":
            return 1.0 if _is_number(word) else 0.0
        case "person" | "place":
            return 1.0 if _is_name(word) and word.lower() not in _FUNCTION_WORDS else 0.0
        case "entity":
            return 0.6 if _is_name(word) and word.lower() not in _FUNCTION_WORDS else 0.0
    return 0.0


_CODE = re.compile(r"`[^`\n]+`")


def short_answer(question: str, sentence: str, guess: str = "") -> Span | None:
    """The span of ``sentence`` that most likely answers ``question`` (None when none does)."""
    kind = question_kind(question)
    if kind in ("thing", "entity"):
        # In technical notes a command or setting in backticks is what "how" asks for.
        code = [m for m in _CODE.finditer(sentence) if m.group().strip("`") not in question]
        if code:
            return Span(code[0].start(), code[0].end(), code[0].group())
    asked = set(tokenize(question))
    guessed = set(tokenize(guess)) - asked
    words = words_of(sentence)
    if not words:
        return None
    stems = [set(tokenize(word.text)) for word in words]
    in_question = [
        bool(stem & asked) or word.text.lower() in asked
        for word, stem in zip(words, stems, strict=True)
    ]
    anchors = [i for i, hit in enumerate(in_question) if hit]
    best: tuple[float, int, int] | None = None
    for first in range(len(words)):
        for last in range(first, min(first + MAX_SPAN_WORDS, len(words))):
            if any(in_question[first : last + 1]):
                break
            inner = words[first : last + 1]
            if (
                inner[0].text.lower() in _FUNCTION_WORDS
                or inner[-1].text.lower() in _FUNCTION_WORDS
            ):
                continue
            fits = [_fits(kind, word.text) for word in inner]
            if last == 0 and kind not in ("date", "number"):
                fits[0] *= 0.3  # every sentence starts with a capital: alone, no sign of a name
            fit = sum(fits) / len(inner)
            content = [w for w in inner if w.text.lower() not in _FUNCTION_WORDS]
            guess_share = (
                sum(1 for i in range(first, last + 1) if stems[i] & guessed) / len(inner)
                if guessed
                else 0.0
            )
            distance = min(
                (min(abs(a - first), abs(a - last)) for a in anchors), default=len(words)
            )
            nearness = 1.0 / (1.0 + distance)
            length = len(content)
            score = (
                2.0 * fit
                + 1.5 * guess_share
                + 1.0 * nearness
                - 0.15
                * max(0, length - (3 if kind in ("thing", "person", "place", "entity") else 2))
            )
            if kind == "thing":
                score += 0.1 * min(length, 3)
            score += 0.05 * sum(1 for value in fits if value >= 1.0)  # the whole date or name
            if kind in ("person", "place", "entity") and fit > 0:
                # A name cut short loses to the whole name.
                for edge in (first - 1, last + 1):
                    inside = 0 < edge < len(words) and not in_question[edge]
                    if inside and _fits(kind, words[edge].text) > 0:
                        score -= 0.6
            if best is None or score > best[0]:
                best = (score, first, last)
    if best is None:
        return None
    _, first, last = best
    start, end = words[first].start, words[last].end
    return Span(start, end, sentence[start:end])


@dataclass(frozen=True)
class GroundedAnswer:
    """A quoted sentence of the sources, the short answer inside it, and where it stands."""

    text: str
    short_answer: str
    quote: Evidence


def grounded_answer(
    question: str, evidence: Sequence[Evidence], docs: Sequence[Document], guess: str = ""
) -> GroundedAnswer | None:
    """The best evidence sentence as the answer, with its short answer; None without evidence.

    A "why" question whose best sentence gives no reason gets the sentence before it too:
    a text tends to state a cause before its effect. ``guess`` is what the answer model wrote,
    if anything: its words weigh in the short answer.
    """
    if not evidence:
        return None
    quote = best_sentence(question, evidence)
    if question_kind(question) == "reason" and not _CAUSAL.search(quote.text):
        quote = with_sentence_before(quote, docs)
    text = " ".join(quote.text.split())
    span = short_answer(question, text, guess)
    return GroundedAnswer(text, span.text if span else "", quote)


def with_sentence_before(quote: Evidence, docs: Sequence[Document]) -> Evidence:
    """The quote extended back over the sentence before it in its chunk (if it has one)."""
    doc = docs[quote.source_number - 1]
    text = doc.page_content
    offset = int(doc.metadata.get("start_index") or 0)
    spans = candidate_sentences(text)
    starts = [start + offset for start, _ in spans]
    if quote.start not in starts or starts.index(quote.start) == 0:
        return quote
    start = spans[starts.index(quote.start) - 1][0]
    end = quote.end - offset
    return replace(quote, start=start + offset, text=text[start:end])


TYPED_SENTENCE_SHARE = 0.7
"""A sentence holding what the question asks for (a date for "when") wins over a better-
scored one without it, when its score is at least this share of the best."""


def best_sentence(question: str, evidence: Sequence[Evidence]) -> Evidence:
    """The evidence sentence to quote: the best scored, unless a close one has the right kind."""
    kind = question_kind(question)
    if kind not in ("date", "number", "person", "place"):
        return evidence[0]

    def typed(item: Evidence) -> bool:
        return any(_fits(kind, word.text) >= 1.0 for word in words_of(item.text)[1:])

    if typed(evidence[0]):
        return evidence[0]
    floor = evidence[0].score * TYPED_SENTENCE_SHARE
    return next((item for item in evidence[1:] if item.score >= floor and typed(item)), evidence[0])
