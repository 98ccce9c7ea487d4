"""What ragkit returns: answers and the sources behind them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from langchain_core.documents import Document

from chains.evidence import Evidence


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


@dataclass(frozen=True)
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
