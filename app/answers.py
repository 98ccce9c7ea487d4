"""What ragkit takes and returns: search options, answers and the sources behind them."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from langchain_core.documents import Document

from app.errors import ProviderError, RagError, UsageError
from chains.citations import check_citations, credited_sources
from chains.evidence import Evidence, SentenceScorer, quotes_for, select_evidence, word_overlap
from retrievers.modes import MODES, Mode

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
        )

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
    ) -> None:
        """Wrap the chunks of ``build_qa_chain(...).stream(question)``."""
        self.question = question
        self._scorer = scorer
        self._chunks = chunks
        self._llm_label = llm_label
        self._explain = explain
        self._docs: list[Document] = []
        self._pieces: list[str] = []
        self._retrieved: list[Document] = []
        self._standalone = ""
        self._done = False

    def __next__(self) -> str:
        """The next piece of answer text."""
        while True:
            with provider_errors(self._explain):
                chunk = next(self._chunks, None)
            if chunk is None:
                self._done = True
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
        checked = check_citations("".join(self._pieces).strip(), len(self._docs))
        asked = self._standalone or self.question
        evidence = tuple(select_evidence(asked, self._docs, scorer=self._scorer))
        cited = credited_sources(checked, evidence)
        return Answer(
            question=self.question,
            text=checked.text,
            sources=self.sources,
            llm=self._llm_label,
            evidence=evidence,
            cited=cited,
            removed_citations=checked.removed,
            standalone_question=asked,
            closest=()
            if self._docs
            else tuple(Source.from_document(doc) for doc in self._retrieved),
            cited_quotes=tuple(quotes_for(asked, self._docs, cited, self._scorer)),
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
