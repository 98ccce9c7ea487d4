"""One ``rag tune``: pairs from the live index, training, the saved model, maybe applied."""

from __future__ import annotations

import re
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.config.paths import models_dir
from app.config.settings import Settings
from app.errors import ConfigError, UsageError
from app.ingestion.indexing import build_index, embedded_texts
from app.models.embedding_cache import embed_texts
from app.models.embeddings import build_embeddings, resolve_embedding_model
from app.models.quiet import quiet_transformers
from app.tuning.pairs import TrainingPair, held_out, label_free_pairs
from app.tuning.teacher import HybridTeacher
from app.tuning.training import Progress, TrainingOptions, TrainingRun, train, write_card

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from retrievers.store import IndexStore

HELD_OUT_SHARE = 0.05
QUESTION_SHARE = 0.5
"""At most this share of the budget goes to writing questions; training has the rest."""
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class TuneOptions:
    """What ``rag tune`` was asked: budget, where the model goes, and whether to apply it."""

    budget_minutes: float = 60.0
    name: str | None = None
    apply: bool = False
    batch_size: int = 16
    seed: int = 0
    wait_seconds: float = 0.0


@dataclass(frozen=True)
class TuneReport:
    """What a tuning run made and did, for the summary lines."""

    folder: Path
    base_model: str
    pairs_by_kind: dict[str, int]
    training: TrainingRun
    applied: bool
    question_seconds: float = 0.0

    def summary(self) -> list[str]:
        """Lines for the terminal: the model, its held-out score, and how to use it."""
        run = self.training
        made = ", ".join(f"{count} {kind}" for kind, count in self.pairs_by_kind.items())
        lines = [
            f"Tuned {self.base_model} on {run.pairs} pairs (made {made}; the rest held out), "
            f"{run.passages_per_query:g} passages a query: {run.steps} of "
            f"{run.planned_steps} steps ({run.stopped}) in {run.seconds:.0f} s",
            f"held-out loss {run.held_out_loss_before:.4f} -> {run.held_out_loss_after:.4f} "
            "(how far its ranking is from hybrid search's)",
            f"saved to {self.folder}",
        ]
        if "question" in self.pairs_by_kind:
            lines.insert(
                0,
                f"the answer model wrote {self.pairs_by_kind['question']} questions "
                f"in {self.question_seconds:.0f} s",
            )
        if self.applied:
            lines.append(
                f"the index is re-embedded with it: set RAG_EMBED_MODEL={self.folder} "
                f"(in .env) to query it; re-embed with the base model to go back"
            )
        else:
            lines.append(
                f"to use it, re-embed: RAG_EMBED_MODEL={self.folder} rag ingest --rebuild PATH "
                "(or run rag tune --apply)"
            )
        return lines


def tuned_models_dir() -> Path:
    """Where tuned embedding models are kept: the user data folder's models/tuned."""
    return models_dir() / "tuned"


def tune(
    store: IndexStore,
    settings: Settings,
    options: TuneOptions,
    *,
    generator: BaseChatModel | None = None,
    on_progress: Progress | None = None,
    on_questions: Progress | None = None,
) -> TuneReport:
    """Train the settings' embedding model on the live index's chunks; save it; maybe apply it.

    The budget covers writing questions (``generator``, at most ``QUESTION_SHARE`` of it)
    and training (the rest).
    """
    started = time.perf_counter()
    budget_seconds = options.budget_minutes * 60
    if settings.embed_provider != "huggingface":
        raise ConfigError(
            "rag tune trains sentence-transformers models: set RAG_EMBED_PROVIDER=huggingface "
            f"(the index uses {settings.embed_provider})"
        )
    index = store.load()
    index.check_embedding(settings.embed_provider, settings.embed_model)
    records = list(index.records)
    pairs = label_free_pairs(records, seed=options.seed)
    writing_started = time.perf_counter()
    if generator is not None:
        from app.tuning.questions import question_pairs

        deadline = started + QUESTION_SHARE * budget_seconds
        pairs += question_pairs(
            records, generator, seed=options.seed, deadline=deadline, on_progress=on_questions
        )
    question_seconds = round(time.perf_counter() - writing_started, 1)
    training_pairs, kept_back = held_out(pairs, HELD_OUT_SHARE, options.seed)
    if len(training_pairs) < 2 * options.batch_size:
        raise UsageError(
            f"too little text to tune on: {len(training_pairs)} training pairs from "
            f"{len(records)} chunks (at least {2 * options.batch_size} are needed)"
        )
    folder = _target_folder(options.name, settings.embed_model)
    base = resolve_embedding_model(settings.embed_model)
    training_options = TrainingOptions(
        budget_seconds=budget_seconds - (time.perf_counter() - started),
        batch_size=options.batch_size,
        seed=options.seed,
    )
    with tempfile.TemporaryDirectory(prefix=".tuning-", dir=folder.parent) as work:
        staged = Path(work) / folder.name
        teacher = HybridTeacher(records, index.dense_rows, _base_model(base, training_options))
        run = train(base, training_pairs, kept_back, staged, training_options, teacher, on_progress)
        card = _card(settings, store, records, pairs, run)
        write_card(staged, {**card, "question_seconds": question_seconds})
        staged.rename(folder)
    tuned = replace(settings, embed_model=str(folder))
    if settings.embedding_backend != "torch":
        build_embeddings(tuned)  # the ONNX export, once, so the first question is quick
    if options.apply:
        reembed(store, tuned, options.wait_seconds)
    return TuneReport(
        folder=folder,
        base_model=settings.embed_model,
        pairs_by_kind=dict(Counter(pair.kind for pair in pairs)),
        training=run,
        applied=options.apply,
        question_seconds=question_seconds,
    )


def _base_model(base: str, options: TrainingOptions) -> Any:
    """The base model, untrained, as the teacher's dense half."""
    from sentence_transformers import SentenceTransformer

    quiet_transformers()
    model = SentenceTransformer(base, device="cpu")
    model.max_seq_length = options.max_seq_length
    model.eval()
    return model


def reembed(store: IndexStore, settings: Settings, wait_seconds: float = 0.0) -> int:
    """Publish the live index's chunks embedded with the settings' model; returns the count."""
    embeddings = build_embeddings(settings)
    with store.writer_lock(wait_seconds):
        index = store.load()
        records = list(index.records)
        vectors = embed_texts(embeddings, embedded_texts(records, index.chunking))
        store.publish(build_index(settings, records, vectors, index.files))
    return len(records)


def _target_folder(name: str | None, base_model: str) -> Path:
    """A new folder for the tuned model; a name that exists is refused, never overwritten."""
    slug = _UNSAFE.sub("-", base_model.rstrip("/").rsplit("/", 1)[-1]).strip("-") or "model"
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    chosen = name or f"{slug}-tuned-{stamp}"
    if _UNSAFE.search(chosen) or chosen.startswith("."):
        raise UsageError(f"--out {chosen!r}: use letters, digits, '.', '_' and '-' only")
    folder = tuned_models_dir() / chosen
    if folder.exists():
        raise UsageError(f"{folder} exists already: choose another --out NAME")
    folder.parent.mkdir(parents=True, exist_ok=True)
    return folder


def _card(
    settings: Settings,
    store: IndexStore,
    records: list[Any],
    pairs: list[TrainingPair],
    run: TrainingRun,
) -> dict[str, Any]:
    return {
        "base_model": settings.embed_model,
        "index": store.location,
        "chunks": len(records),
        "pairs_by_kind": dict(Counter(pair.kind for pair in pairs)),
        "training": run.to_dict(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
