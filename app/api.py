"""The Python API: ``Rag`` ties settings, models, the index store and the chain together.

Every interface (the command line, the REPL, later the server and MCP) calls ``Rag`` and
nothing past it.
"""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.answers import Answer, AnswerStream, SearchOptions, Source, provider_errors
from app.config.settings import DEFAULT_LLAMACPP_MODEL, Settings, load_settings
from app.errors import NotInIndexError, UsageError
from app.models.discovery import LocalModel, available_memory, fits
from app.models.embeddings import build_embeddings
from app.models.llms import LlmChoice, build_llm, choose_llm, custom_gguf_file, local_chat_models
from app.models.ollama import explain_client_error
from app.models.styles import SMALL_MODEL_LIMITS, answer_style, is_small_model
from app.retrieval import build_retriever, build_store, migration_stores
from app.retrieval.catalog import (
    IndexedFile,
    IndexStatus,
    index_status,
    indexed_files,
)
from chains.evidence import SentenceScorer, word_overlap

if TYPE_CHECKING:
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage
    from langchain_core.retrievers import BaseRetriever
    from langchain_core.runnables import Runnable
    from langchain_core.tools import BaseTool

    from app.evaluation import EvalReport
    from app.ingestion.forgetting import ForgetReport
    from app.ingestion.loading import SkipHandler
    from app.ingestion.migration import MigrateReport
    from app.ingestion.reindexing import ReindexReport
    from app.ingestion.run import IngestOptions, IngestReport, Progress
    from app.tuning.run import TuneOptions, TuneReport
    from chains.qa import AnswerStyle
    from retrievers.hybrid import CandidateSearch, HybridRetriever
    from retrievers.modes import Mode
    from retrievers.store import IndexStore
    from retrievers.vector_index import VectorIndex

Notify = Callable[[str], None]


def notify_stderr(message: str) -> None:
    """Default notice channel: one line on stderr."""
    print(f"ragkit: {message}", file=sys.stderr)


@dataclass(frozen=True)
class LocalModels:
    """What ``rag models`` shows: chat models on this machine and what ``auto`` answers with."""

    models: tuple[LocalModel, ...]
    fits: tuple[bool | None, ...]
    available_memory: int | None
    context_tokens: int
    auto: LlmChoice

    def is_auto(self, model: LocalModel) -> bool:
        """Whether ``auto`` answers with this model."""
        return self.auto.provider == "llamacpp" and self.auto.model == str(model.path)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return {
            "models": [
                {**model.to_dict(), "fits": fit, "auto": self.is_auto(model)}
                for model, fit in zip(self.models, self.fits, strict=True)
            ],
            "available_memory": self.available_memory,
            "context_tokens": self.context_tokens,
            "auto": {
                "provider": self.auto.provider,
                "model": self.auto.model,
                "label": self.auto.label,
                "reason": self.auto.reason,
            },
        }


class Rag:
    """Ask questions over your documents: ``Rag.from_settings().ask("...")``."""

    def __init__(
        self,
        settings: Settings,
        *,
        embeddings: Embeddings | None = None,
        llm: BaseChatModel | None = None,
        store: IndexStore | None = None,
        notify: Notify = notify_stderr,
    ) -> None:
        """Use the given models and store, or build the ones the settings name on first use."""
        self.settings = settings
        self.store = store or build_store(settings, notify)
        self._embeddings = embeddings
        self._llm = llm
        self._llm_built = llm is not None
        self._llm_choice: LlmChoice | None = (
            LlmChoice("custom", type(llm).__name__, "given") if llm is not None else None
        )
        self._notify = notify
        self._small_model = settings.llm_prompt == "small"
        self._llm_lock = threading.Lock()
        self._index: VectorIndex | CandidateSearch | None = None
        self._index_version: str | None = None

    def with_collection(self, name: str) -> Rag:
        """The same engine over another collection, sharing the models already loaded."""
        other = Rag(
            self.settings.replace(collection=name), embeddings=self._embeddings, notify=self._notify
        )
        with self._llm_lock:
            other._llm, other._llm_built = self._llm, self._llm_built
            other._llm_choice, other._small_model = self._llm_choice, self._small_model
        return other

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
    def llm_choice(self) -> LlmChoice:
        """Which answer model to use, chosen on first use (``auto`` says which, in one line)."""
        with self._llm_lock:
            if self._llm_choice is None:
                choice = choose_llm(self.settings)
                self._small_model = is_small_model(self.settings, choice, custom_gguf_file(choice))
                self._llm_choice = choice
                if self.settings.llm_provider == "auto":
                    self._notify(self._choice_notice(choice))
            return self._llm_choice

    def _choice_notice(self, choice: LlmChoice) -> str:
        """The line saying what answers: the model, or quotes when it is too small to write."""
        if not quotes_answers(self.settings, choice):
            return f"answering with {choice.label} ({choice.reason})"
        return (
            f"answering with quotes from your documents: {choice.label} is too small to write "
            f"answers (RAG_ANSWER_MODE=generate lets it; {choice.reason})"
        )

    @property
    def llm(self) -> BaseChatModel | None:
        """The answer model (``None`` for retrieval only), chosen and loaded on first use."""
        choice = self.llm_choice
        with self._llm_lock:
            if self._llm is None and not self._llm_built:
                limits = SMALL_MODEL_LIMITS if self._small_model else None
                self._llm = build_llm(self.settings, choice, limits)
                self._llm_built = True
        return self._llm

    def warm_up(self) -> None:
        """Load the answer model now and evaluate its fixed system prompt (reused by questions).

        The chat REPL calls this in the background while the user types the first question.
        """
        from app.models.llamacpp import LlamaCppChat

        if self.extractive:
            return  # quoted answers need no answer model
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
    def extractive(self) -> bool:
        """Whether answers are quoted sentences of the sources (RAG_ANSWER_MODE), not written."""
        return quotes_answers(self.settings, self.llm_choice)

    @property
    def llm_label(self) -> str:
        """Which answer model is in use, e.g. ``llamacpp:SmolLM2-135M-Instruct``."""
        return self._llm_choice.label if self._llm_choice else ""

    def ingest(
        self,
        paths: str | Path | Iterable[str | Path],
        *,
        options: IngestOptions | None = None,
        rebuild: bool | None = None,
        on_skip: SkipHandler | None = None,
        on_progress: Progress | None = None,
        on_file: Progress | None = None,
    ) -> IngestReport:
        """Index files and folders; unchanged files keep their vectors.

        ``rebuild`` starts a new index; given with ``options``, it overrides theirs.
        ``on_file(done, total)`` follows the files read, ``on_progress`` the chunks embedded.
        """
        from app.ingestion.run import IngestOptions, ingest_paths

        options = options or IngestOptions()
        if rebuild is not None:
            options = replace(options, rebuild=rebuild)
        items = [paths] if isinstance(paths, str | Path) else list(paths)
        with provider_errors(self._explain):
            report = ingest_paths(
                [Path(p) for p in items],
                self.store,
                self.settings,
                lambda: self.embeddings,
                options=options,
                on_skip=on_skip or self._warn_skipped,
                on_progress=on_progress,
                on_file=on_file,
            )
        self._index = None
        return report

    def _warn_skipped(self, skipped: Any) -> None:
        self._notify(skipped.warning_line())

    def reindex(self, wait_seconds: float = 0.0) -> ReindexReport:
        """Rebuild the index as the settings' RAG_INDEX_TYPE from its stored vectors."""
        from app.ingestion.reindexing import reindex

        report = reindex(self.store, self.settings, wait_seconds)
        self._index = None
        return report

    def migrate(
        self,
        to: str,
        wait_seconds: float = 0.0,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> MigrateReport:
        """Copy the index to the local store or Postgres (``to``), embedding nothing.

        The settings name both: RAG_INDEX_DIR and RAG_POSTGRES_URL; RAG_STORE then picks
        which one ``rag`` uses.
        """
        from app.ingestion.migration import migrate_index

        source, target = migration_stores(self.settings, to)
        report = migrate_index(
            source, target, self.settings, wait_seconds=wait_seconds, on_progress=on_progress
        )
        self._index = None
        return report

    def status(self) -> IndexStatus:
        """Describe the live index from its manifest, without loading vectors or models."""
        return index_status(self.settings, self.store)

    def evaluate_retrieval(
        self,
        dataset_dir: Path,
        modes: Sequence[Mode],
        *,
        index_dir: Path | None = None,
        on_progress: Progress | None = None,
        k: int = 10,
    ) -> tuple[list[EvalReport], VectorIndex]:
        """Index a BEIR dataset (or reuse ``index_dir``) and score retrieval in each mode."""
        from app.evaluation import evaluate_retrieval

        return evaluate_retrieval(
            dataset_dir,
            self.settings,
            lambda: self.embeddings,
            modes,
            index_dir=index_dir,
            on_progress=on_progress,
            k=k,
        )

    def evaluate_answers(
        self, dataset_dir: Path, index: VectorIndex, *, limit: int | None = None
    ) -> dict[str, float]:
        """Answer the dataset's answers.jsonl questions over ``index`` and score them."""
        from app.evaluation import evaluate_answers

        if self.llm_choice.provider == "none":
            raise UsageError("--answers needs an answer model (RAG_LLM_PROVIDER is none)")
        llm = None if self.extractive else self.llm  # a quoted answer calls no model
        return evaluate_answers(
            dataset_dir,
            index,
            self.settings,
            self.embeddings,
            llm,
            limit=limit,
            style=self.answer_style(),
            extractive=self.extractive,
        )

    def documents(self) -> list[IndexedFile]:
        """The files in the index, by source, from its manifest (no vectors loaded)."""
        return indexed_files(self.store)

    def passage(self, chunk_id: str) -> Source:
        """One indexed chunk by its id, as a citation links to it (``NotInIndexError``)."""
        record = self.index().record(chunk_id)
        if record is None:
            raise NotInIndexError(f"no chunk {chunk_id!r} in the index at {self.store.location}")
        return Source.from_record(record)

    def chunks_of(self, source: str) -> list[Source]:
        """The chunks of one file as indexed, in order (``NotInIndexError``)."""
        records = self.index().records_of(source)
        if not records:
            raise NotInIndexError(
                f"{source} is not in the index at {self.store.location} (`rag ls` lists what is)"
            )
        return [Source.from_record(record) for record in records]

    def forget(self, names: Iterable[str | Path], wait_seconds: float = 0.0) -> ForgetReport:
        """Remove files (by source or path) from the index; the files on disk stay."""
        from app.ingestion.forgetting import forget

        report = forget(self.store, self.settings, map(str, names), wait_seconds)
        self._index = None
        return report

    def tune(
        self,
        options: TuneOptions | None = None,
        *,
        questions: bool | None = None,
        on_progress: Progress | None = None,
        on_questions: Progress | None = None,
    ) -> TuneReport:
        """Fine-tune the embedding model on the index's chunks (``rag tune``).

        ``questions``: let the answer model write training questions; by default only when
        it is capable (Ollama, or a GGUF model that is not small), never the embedded one;
        writing takes at most half the budget. ``on_questions``/``on_progress``: (done, total)
        of the questions written and of the training steps.
        """
        from app.tuning.run import TuneOptions, tune

        writer = questions if questions is not None else self.writes_questions
        report = tune(
            self.store,
            self.settings,
            options or TuneOptions(),
            generator=self.llm if writer else None,
            on_progress=on_progress,
            on_questions=on_questions,
        )
        self._index = None
        return report

    @property
    def writes_questions(self) -> bool:
        """Whether the answer model is capable enough to write training questions."""
        return self.llm_choice.provider != "none" and not self.extractive and not self._small_model

    def index(self) -> VectorIndex | CandidateSearch:
        """The live index, reloaded when an ingest has published a new version.

        A database store gives a handle searched in SQL rather than the chunks themselves.
        """
        version = self.store.version()
        index = self._index  # read once: an ingest in another thread may reset it
        if index is None or version != self._index_version:
            index = self.store.searchable()
            index.check_embedding(self.settings.embed_provider, self.settings.embed_model)
            self._index, self._index_version = index, version
        return index

    def retriever(self, options: SearchOptions | None = None, **changes: Any) -> HybridRetriever:
        """A LangChain retriever over the live index (``changes``: fields of SearchOptions)."""
        search = (options or SearchOptions()).with_changes(**changes)
        mode = search.mode or self.settings.retrieval_mode
        return build_retriever(
            self.settings,
            self.index(),
            self.embeddings if mode != "bm25" else None,
            k=search.k,
            mode=mode,
            source_glob=search.source_glob,
            mmr=search.mmr,
        )

    def as_retriever(self, **search_options: Any) -> BaseRetriever:
        """A LangChain retriever over the live index, following later ingests.

        ``search_options`` are fields of SearchOptions, as for ``retrieve``.
        """
        from chains.handles import SearchRetriever

        options = SearchOptions().with_changes(**search_options)
        return SearchRetriever(search=lambda query: self._search(query, options))

    def as_tool(self, name: str | None = None, description: str | None = None) -> BaseTool:
        """A LangChain tool for agents: the passages closest to a query, with their sources."""
        from chains.handles import SEARCH_TOOL_DESCRIPTION, SEARCH_TOOL_NAME, search_tool

        options = SearchOptions()
        return search_tool(
            lambda query: self._search(query, options),
            name or SEARCH_TOOL_NAME,
            description or SEARCH_TOOL_DESCRIPTION,
        )

    def as_chain(self, options: SearchOptions | None = None) -> Runnable[Any, Answer]:
        """The answer chain as a Runnable: a question, or ``{question, history}``, to an Answer."""
        from langchain_core.messages import convert_to_messages
        from langchain_core.runnables import RunnableLambda

        from chains.handles import question_and_history

        def answer(value: Any) -> Answer:
            try:
                question, history = question_and_history(value)
            except ValueError as error:
                raise UsageError(str(error)) from None
            stream = self.stream(question, options, history=convert_to_messages(history))
            return stream.answer

        return RunnableLambda(answer, name="ragkit_answer")

    def _search(self, query: str, options: SearchOptions) -> list[Document]:
        retriever = self.retriever(options)
        with provider_errors(self._explain):
            return retriever.invoke(query)

    def retrieve(
        self, question: str, options: SearchOptions | None = None, **changes: Any
    ) -> list[Source]:
        """The chunks closest to the question, best first; no answer model involved.

        ``changes`` are fields of SearchOptions: ``k``, ``mode``, ``source_glob``, ``mmr``.
        """
        search = (options or SearchOptions()).with_changes(**changes)
        return [Source.from_document(doc) for doc in self._search(question, search)]

    def ask(self, question: str, options: SearchOptions | None = None, **changes: Any) -> Answer:
        """Answer from the documents, with the sources used (options: as ``retrieve``)."""
        stream = self.stream(question, options, **changes)
        for _ in stream:
            pass
        return stream.answer

    def stream(
        self,
        question: str,
        options: SearchOptions | None = None,
        *,
        history: Sequence[BaseMessage] | None = None,
        **changes: Any,
    ) -> AnswerStream:
        """Answer text piece by piece; ``.answer`` holds the whole Answer afterwards.

        With ``history`` (earlier turns of a chat), a follow-up question is first rewritten
        into a standalone one, which retrieval uses. ``force`` (an option) asks the model
        even when no passage is close to the question.
        """
        search = (options or SearchOptions()).with_changes(**changes)
        min_score = -math.inf if search.force else self.settings.min_score
        retriever = self.retriever(search)
        if self.extractive:
            from chains.quoting import build_quote_chain

            quote = build_quote_chain(retriever, min_score=min_score)
            inputs = {"question": question, "history": list(history or [])}
            return self._answer_stream(question, quote.stream(inputs))
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
        return AnswerStream(
            question,
            chunks,
            self.llm_label,
            self._explain,
            self.sentence_scorer,
            extractive=self.extractive,
        )

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


def quotes_answers(settings: Settings, choice: LlmChoice) -> bool:
    """Whether answers are quoted sentences of the sources rather than the model's own text.

    RAG_ANSWER_MODE=auto quotes for the embedded model and with RAG_LLM_PROMPT=small; a GGUF
    file the user chose writes its answers. Retrieval only (no answer model) never answers.
    """
    if choice.provider == "none":
        return False
    if settings.answer_mode != "auto":
        return settings.answer_mode == "extract"
    embedded = choice.provider == "llamacpp" and choice.model == DEFAULT_LLAMACPP_MODEL
    return embedded or settings.llm_prompt == "small"


def local_models(settings: Settings) -> LocalModels:
    """The chat GGUF models on this machine, whether each fits, and what ``auto`` picks."""
    found = sorted(local_chat_models(), key=lambda m: (-m.parameters, m.name, m.source))
    available = available_memory()
    auto = choose_llm(settings.replace(llm_provider="auto"), models=found)
    return LocalModels(
        models=tuple(found),
        fits=tuple(fits(model, available, settings.llm_ctx) for model in found),
        available_memory=available,
        context_tokens=settings.llm_ctx,
        auto=auto,
    )
