"""The Python API: ``Rag`` ties settings, models, the index and the chain together."""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from app.answers import Answer, Source
from app.errors import ProviderError, RagError
from app.ollama import explain_client_error
from app.providers import (
    LlmChoice,
    build_embeddings,
    build_llm,
    build_reranker,
    choose_llm,
    custom_gguf_file,
    reads_cjk,
)
from app.settings import Settings, load_settings
from app.styles import SMALL_MODEL_LIMITS, answer_style, is_small_model
from chains.citations import check_citations
from chains.evidence import SentenceScorer, quotes_for, select_evidence, word_overlap
from retrievers.snapshots import current_snapshot, index_size_bytes
from retrievers.vector_index import read_manifest

if TYPE_CHECKING:
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage

    from app.ingest import IngestOptions, IngestReport, Progress
    from app.loading import SkipHandler
    from app.reindexing import ReindexReport
    from chains.qa import AnswerStyle
    from retrievers.hybrid import Fusion, HybridRetriever, Mode
    from retrievers.vector_index import VectorIndex

Notify = Callable[[str], None]
Explain = Callable[[BaseException], str | None]


def notify_stderr(message: str) -> None:
    """Default notice channel: one line on stderr."""
    print(f"ragkit: {message}", file=sys.stderr)


@dataclass(frozen=True)
class IndexStatus:
    """What ``rag status`` shows about the live index."""

    index_dir: Path
    files: int
    chunks: int
    embedding: str
    dimension: int
    size_bytes: int
    created_at: str
    chunking: dict[str, Any]
    index_type: str

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return {**self.__dict__, "index_dir": str(self.index_dir)}


class Rag:
    """Ask questions over your documents: ``Rag.from_settings().ask("...")``."""

    def __init__(
        self,
        settings: Settings,
        *,
        embeddings: Embeddings | None = None,
        llm: BaseChatModel | None = None,
        notify: Notify = notify_stderr,
    ) -> None:
        """Use the given models, or build the ones the settings name on first use."""
        self.settings = settings
        self._embeddings = embeddings
        self._llm = llm
        self._llm_choice: LlmChoice | None = (
            LlmChoice("custom", type(llm).__name__, "given") if llm is not None else None
        )
        self._notify = notify
        self._small_model = settings.llm_prompt == "small"
        self._llm_lock = threading.Lock()
        self._index: VectorIndex | None = None
        self._index_snapshot: str | None = None

    @classmethod
    def from_settings(cls, **overrides: Any) -> Rag:
        """Build from flags-style overrides > environment > .env > defaults."""
        return cls(load_settings(overrides))

    @property
    def embeddings(self) -> Embeddings:
        """The embedding model, loaded on first use."""
        if self._embeddings is None:
            self._embeddings = build_embeddings(self.settings)
        return self._embeddings

    @property
    def llm(self) -> BaseChatModel | None:
        """The answer model (``None`` for retrieval only), chosen and loaded on first use."""
        with self._llm_lock:
            if self._llm_choice is None:
                choice = choose_llm(self.settings)
                small = is_small_model(self.settings, choice, custom_gguf_file(choice))
                limits = SMALL_MODEL_LIMITS if small else None
                self._llm = build_llm(self.settings, choice, limits)
                self._llm_choice, self._small_model = choice, small
                if self.settings.llm_provider == "auto":
                    self._notify(f"answering with {choice.label} ({choice.reason})")
        return self._llm

    def warm_up(self) -> None:
        """Load the answer model now and evaluate its fixed system prompt (reused by questions).

        The chat REPL calls this in the background while the user types the first question.
        """
        from app.llamacpp import LlamaCppChat

        llm = self.llm
        if isinstance(llm, LlamaCppChat):
            prompt = self.answer_style().prompt
            system = prompt.invoke({"context": "", "question": ""}).to_messages()[:1]
            llm.warm_up(system)

    @property
    def sentence_scorer(self) -> SentenceScorer:
        """How evidence sentences are rated against the question (measured best)."""
        return word_overlap

    def answer_style(self) -> AnswerStyle:
        """The prompt style of the answer model: the small-model one or the full prompt."""
        llm = self.llm  # the choice decides whether the model is small
        return answer_style(self._small_model and llm is not None, self.sentence_scorer)

    @property
    def llm_label(self) -> str:
        """Which answer model is in use, e.g. ``llamacpp:SmolLM2-135M-Instruct``."""
        return self._llm_choice.label if self._llm_choice else ""

    def ingest(
        self,
        paths: str | Path | Iterable[str | Path],
        *,
        rebuild: bool = False,
        options: IngestOptions | None = None,
        on_skip: SkipHandler | None = None,
        on_progress: Progress | None = None,
    ) -> IngestReport:
        """Index files and folders; unchanged files keep their vectors."""
        from app.ingest import IngestOptions

        items = [paths] if isinstance(paths, str | Path) else list(paths)
        with provider_errors(self._explain):
            report = self._ingest_items(
                items, options or IngestOptions(rebuild=rebuild), on_skip, on_progress
            )
        self._index = None
        return report

    def _ingest_items(
        self,
        items: list[str | Path],
        options: IngestOptions,
        on_skip: SkipHandler | None,
        on_progress: Progress | None,
    ) -> IngestReport:
        # Imported here: answering questions needs none of the loading and splitting code.
        from app.ingest import ingest_paths

        return ingest_paths(
            [Path(p) for p in items],
            self.settings,
            lambda: self.embeddings,
            options=options,
            on_skip=on_skip
            or (lambda skipped: self._notify(f"warning: skipped {skipped.path}: {skipped.reason}")),
            on_progress=on_progress,
        )

    def reindex(self, wait_seconds: float = 0.0) -> ReindexReport:
        """Rebuild the index as the settings' RAG_INDEX_TYPE from its stored vectors."""
        from app.reindexing import reindex

        report = reindex(self.settings, wait_seconds)
        self._index = None
        return report

    def index(self) -> VectorIndex:
        """The live index, reloaded when an ingest has published a new snapshot."""
        from retrievers.vector_index import VectorIndex

        snapshot = current_snapshot(self.settings.index_dir).name
        if self._index is None or snapshot != self._index_snapshot:
            index = VectorIndex.load(self.settings.index_dir)
            index.check_embedding(self.settings.embed_provider, self.settings.embed_model)
            self._index, self._index_snapshot = index, snapshot
        return self._index

    def retriever(
        self,
        k: int | None = None,
        mode: str | None = None,
        source_glob: str | None = None,
        mmr: bool = False,
    ) -> HybridRetriever:
        """A LangChain retriever over the live index (hybrid, dense or bm25).

        ``source_glob`` keeps only chunks of matching files (``*.pdf``, ``notes/*``);
        ``mmr`` trades a little relevance for variety among the results.
        """
        chosen = mode or self.settings.retrieval_mode
        embeddings = self.embeddings if chosen != "bm25" else None
        return build_retriever(
            self.settings, self.index(), embeddings, k, chosen, source_glob=source_glob, mmr=mmr
        )

    def retrieve(self, question: str, k: int | None = None, **search: Any) -> list[Source]:
        """The ``k`` chunks closest to the question, best first; no answer model involved.

        ``search`` takes the retriever's options: ``mode``, ``source_glob``, ``mmr``.
        """
        retriever = self.retriever(k, **search)
        with provider_errors(self._explain):
            return [Source.from_document(doc) for doc in retriever.invoke(question)]

    def ask(self, question: str, k: int | None = None, **search: Any) -> Answer:
        """Answer from the documents, with the sources used (``search``: as ``retrieve``)."""
        stream = self.stream(question, k, **search)
        for _ in stream:
            pass
        return stream.answer

    def stream(
        self,
        question: str,
        k: int | None = None,
        mode: str | None = None,
        history: Sequence[BaseMessage] | None = None,
        source_glob: str | None = None,
        mmr: bool = False,
        force: bool = False,
    ) -> AnswerStream:
        """Answer text piece by piece; ``.answer`` holds the whole Answer afterwards.

        With ``history`` (earlier turns of a chat), a follow-up question is first rewritten
        into a standalone one, which retrieval uses. ``force`` asks the model even when no
        passage is close to the question.
        """
        min_score = -math.inf if force else self.settings.min_score
        retriever = self.retriever(k, mode, source_glob, mmr)
        llm = self.llm
        if llm is None:
            with provider_errors(self._explain):
                docs = retriever.invoke(question)
            return self._answer_stream(question, iter([{"docs": docs}]))
        if history:
            from chains.conversation import build_conversational_chain

            talk = build_conversational_chain(
                retriever, llm, min_score=min_score, style=self.answer_style()
            )
            chunks = talk.stream({"question": question, "history": list(history)})
            return self._answer_stream(question, chunks)
        from chains.qa import build_qa_chain

        chain = build_qa_chain(retriever, llm, min_score=min_score, style=self.answer_style())
        return self._answer_stream(question, chain.stream(question))

    def _answer_stream(self, question: str, chunks: Iterator[dict[str, Any]]) -> AnswerStream:
        return AnswerStream(question, chunks, self.llm_label, self._explain, self.sentence_scorer)

    def _explain(self, error: BaseException) -> str | None:
        """One line for a provider failure (Ollama, network), or None for other errors."""
        uses_ollama = self._llm_choice is not None and self._llm_choice.provider == "ollama"
        model = self._llm_choice.model if uses_ollama and self._llm_choice else ""
        explained = explain_client_error(
            error, self.settings.ollama_host, model or self.settings.embed_model
        )
        if explained is not None and not uses_ollama and self.settings.embed_provider != "ollama":
            return f"the answer model {self.llm_label} failed: {error}"
        return explained


def build_retriever(
    settings: Settings,
    index: VectorIndex,
    embeddings: Embeddings | None,
    k: int | None = None,
    mode: str | None = None,
    **options: Any,
) -> HybridRetriever:
    """The retriever the settings describe, over ``index`` (options: source_glob, mmr, ...)."""
    from retrievers.hybrid import HybridRetriever

    return HybridRetriever(
        index=index,
        embeddings=embeddings,
        k=k or settings.top_k,
        mode=cast("Mode", mode or settings.retrieval_mode),
        rrf_k=settings.rrf_k,
        fusion=cast("Fusion", settings.fusion),
        dense_reads_cjk=reads_cjk(settings.embed_model),
        reranker=build_reranker(settings.rerank_model),
        **options,
    )


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
        # A model that cites nothing gets the sources whose sentences support the answer.
        cited = checked.cited or (
            tuple(sorted({item.source_number for item in evidence})) if checked.text else ()
        )
        quotes = tuple(quotes_for(asked, self._docs, cited, self._scorer))
        return Answer(
            self.question,
            checked.text,
            self.sources,
            self._llm_label,
            evidence,
            cited,
            checked.removed,
            self._standalone or self.question,
            closest=()
            if self._docs
            else tuple(Source.from_document(doc) for doc in self._retrieved),
            cited_quotes=quotes,
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


def index_status(settings: Settings) -> IndexStatus:
    """Describe the live index from its manifest, without loading vectors or models."""
    snapshot = current_snapshot(settings.index_dir)
    manifest = read_manifest(settings.index_dir, snapshot)
    return IndexStatus(
        index_dir=settings.index_dir,
        files=len(manifest.files),
        chunks=manifest.chunk_count,
        embedding=f"{manifest.embedding.provider}:{manifest.embedding.model}",
        dimension=manifest.embedding.dimension,
        size_bytes=index_size_bytes(snapshot),
        created_at=manifest.created_at,
        chunking=manifest.chunking,
        index_type=manifest.index.label,
    )
