"""What ragkit takes and returns: search options, answers and the sources behind them."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from langchain_core.documents import Document

from app.errors import ProviderError, RagError, UsageError
from chains.citations import check_citations, credited_sources
from chains.evidence import Evidence, SentenceScorer, quotes_for, select_evidence, word_overlap
from chains.grounding import grounded_answer
from chains.qa import NOT_COVERED
from chains.support import SentenceSupport, check_support, supported_share
from retrievers.modes import MODES, Mode

if TYPE_CHECKING:
    from retrievers.docstore import ChunkRecord

Explain = Callable[[BaseException], str | None]
"""A one-line explanation of a provider failure, or None for errors that are not one."""


@dataclass(frozen=True, kw_only=True)
class SearchOptions:
    """How to search for a question; ``None`` keeps the setting (RAG_TOP_K, RAG_RETRIEVAL_MODE).

    ``source_glob`` keeps only chunks of matching files (``*.pdf``, ``notes/*``); ``mmr``
    trades a little relevance for variety; ``force`` asks the answer model even when no
    passage is close to the question.
    """

    k: int | None = None
    mode: Mode | None = None
    source_glob: str | None = None
    mmr: bool = False
    force: bool = False

    def __post_init__(self) -> None:
        """Refuse values no search can use, with the accepted ones."""
        if self.k is not None and not (isinstance(self.k, int) and self.k >= 1):
            raise UsageError(f"k must be a whole number of at least 1; got {self.k!r}")
        if self.mode is not None and self.mode not in MODES:
            raise UsageError(f"mode must be one of {', '.join(MODES)}; got {self.mode!r}")

    def with_changes(self, **changes: Any) -> SearchOptions:
        """A copy with the given fields changed (``None`` values are ignored)."""
        known = {field.name for field in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise UsageError(
                f"unknown search option(s) {', '.join(unknown)}; use {', '.join(sorted(known))}"
            )
        given = {name: value for name, value in changes.items() if value is not None}
        return dataclasses.replace(self, **given) if given else self


@dataclass(frozen=True)
class Source:
    """A retrieved chunk: where it is from and how close it is to the question."""

    source: str
    page: int | None
    chunk: int
    score: float
    text: str
    id: str = ""
    start_index: int | None = None
    section: str = ""

    @classmethod
    def from_document(cls, doc: Document) -> Source:
        """Build from a retrieved Document's metadata."""
        metadata = doc.metadata
        return cls(
            source=str(metadata.get("source", "")),
            page=metadata.get("page"),
            chunk=int(metadata.get("chunk", 0)),
            score=round(float(metadata.get("score", 0.0)), 6),
            text=doc.page_content,
            id=str(metadata.get("id") or doc.id or ""),
            start_index=metadata.get("start_index"),
            section=str(metadata.get("section") or ""),
        )

    @classmethod
    def from_record(cls, record: ChunkRecord) -> Source:
        """Build from a stored chunk (no score: it was looked up, not retrieved)."""
        return cls.from_document(Document(record.text, id=record.id, metadata=record.metadata))

    @property
    def location(self) -> str:
        """``file`` or ``file:page``."""
        return f"{self.source}:{self.page}" if self.page is not None else self.source

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class Answer:
    """An answer, the sources it was written from and the sentences that support it.

    ``text`` is empty for retrieval only.
    """

    question: str
    text: str
    sources: tuple[Source, ...]
    llm: str = ""
    evidence: tuple[Evidence, ...] = ()
    cited: tuple[int, ...] = ()
    removed_citations: tuple[int, ...] = ()
    standalone_question: str = ""
    closest: tuple[Source, ...] = ()
    cited_quotes: tuple[Evidence, ...] = ()
    kind: str = ""
    """``quoted`` (a sentence of the sources), ``generated`` (the model's text), ``not_covered``
    (no passage is close to the question) or empty (retrieval only)."""
    short_answer: str = ""
    """The direct answer, a span of ``text`` (quoted answers)."""
    quote: Evidence | None = None
    """Where a quoted answer stands in the sources."""
    support: tuple[SentenceSupport, ...] = ()
    """Each sentence of a generated answer, checked against the sources."""

    @property
    def marked_text(self) -> str:
        """The answer with its short answer in Markdown bold (rendered bold on a terminal)."""
        short = self.short_answer
        if not short or short == self.text or short not in self.text:
            return self.text
        start = self.text.index(short)
        end = start + len(short)
        for code in re.finditer(r"`[^`]+`", self.text):
            if code.start() < end and start < code.end():  # bold cannot go inside code
                start, end = min(start, code.start()), max(end, code.end())
        return f"{self.text[:start]}**{self.text[start:end]}**{self.text[end:]}"

    @property
    def supported_share(self) -> float:
        """Share of the answer's sentences that the sources back (1.0 for a quote)."""
        return supported_share(self.support)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return {
            "question": self.question,
            "answer": self.text,
            "sources": [source.to_dict() for source in self.sources],
            "evidence": [asdict(item) for item in self.evidence],
            "cited": list(self.cited),
            "removed_citations": list(self.removed_citations),
            "standalone_question": self.standalone_question or self.question,
            "closest": [source.to_dict() for source in self.closest],
            "cited_quotes": [asdict(item) for item in self.cited_quotes],
            "answer_kind": self.kind,
            "short_answer": self.short_answer,
            "quoted_from": asdict(self.quote) if self.quote else None,
            "support": [asdict(item) for item in self.support],
            "supported_share": self.supported_share,
            "llm": self.llm,
        }


class AnswerStream(Iterator[str]):
    """Iterates over answer text pieces from the chain and assembles the final Answer."""

    def __init__(
        self,
        question: str,
        chunks: Iterator[dict[str, Any]],
        llm_label: str,
        explain: Explain = lambda error: None,
        scorer: SentenceScorer = word_overlap,
        *,
        extractive: bool = False,
    ) -> None:
        """Wrap the chunks of ``build_qa_chain(...).stream(question)``.

        ``extractive``: the answer is the sentence of the sources that answers the question;
        the model's own text, if any, only guides which words are the short answer.
        """
        self.question = question
        self._extractive = extractive
        self._emitted = False
        self._scorer = scorer
        self._chunks = chunks
        self._llm_label = llm_label
        self._explain = explain
        self._docs: list[Document] = []
        self._pieces: list[str] = []
        self._retrieved: list[Document] = []
        self._standalone = ""
        self._done = False
        self._answer: Answer | None = None

    def __next__(self) -> str:
        """The next piece of answer text."""
        while True:
            with provider_errors(self._explain):
                chunk = next(self._chunks, None)
            if chunk is None:
                self._done = True
                if self._extractive and not self._emitted and self._docs:
                    self._emitted = True
                    return self.answer.marked_text
                raise StopIteration
            if "docs" in chunk:
                self._docs = list(chunk["docs"])
            if "retrieved" in chunk:
                self._retrieved = list(chunk["retrieved"])
            if chunk.get("standalone"):
                self._standalone += str(chunk["standalone"])
            piece = chunk.get("answer")
            if piece:
                self._pieces.append(piece)
                if not self._extractive or piece == NOT_COVERED:
                    return str(piece)

    @property
    def sources(self) -> tuple[Source, ...]:
        """The sources retrieved so far."""
        return tuple(Source.from_document(doc) for doc in self._docs)

    @property
    def answer(self) -> Answer:
        """The whole answer; iterate to the end first."""
        if not self._done:
            for _ in self:
                pass
        if self._answer is None:
            self._answer = self._assemble()
        return self._answer

    def _assemble(self) -> Answer:
        generated = "".join(self._pieces).strip()
        asked = self._standalone or self.question
        evidence = tuple(select_evidence(asked, self._docs, scorer=self._scorer))
        closest = tuple(Source.from_document(doc) for doc in self._retrieved)
        base = Answer(
            question=self.question,
            text=generated,
            sources=self.sources,
            llm=self._llm_label,
            evidence=evidence,
            standalone_question=asked,
            closest=() if self._docs else closest,
        )
        if not self._docs:
            return dataclasses.replace(base, kind="not_covered" if generated == NOT_COVERED else "")
        grounded = (
            grounded_answer(self.question, evidence, self._docs, generated)
            if self._extractive
            else None
        )
        if grounded is not None:
            return dataclasses.replace(
                base,
                text=grounded.text,
                cited=(grounded.quote.source_number,),
                kind="quoted",
                short_answer=grounded.short_answer,
                quote=grounded.quote,
            )
        checked = check_citations(generated, len(self._docs))
        cited = credited_sources(checked, evidence)
        return dataclasses.replace(
            base,
            text=checked.text,
            cited=cited,
            removed_citations=checked.removed,
            cited_quotes=tuple(quotes_for(asked, self._docs, cited, self._scorer)),
            kind="generated" if checked.text else "",
            support=tuple(check_support(checked.text, self._docs)),
        )


@contextmanager
def provider_errors(explain: Explain) -> Iterator[None]:
    """Turn failures of models and services into one-line ``ProviderError``s."""
    try:
        yield
    except RagError:
        raise
    except Exception as error:
        message = explain(error)
        if message is None:
            raise
        raise ProviderError(message) from error
