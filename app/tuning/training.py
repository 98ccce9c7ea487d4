"""Fine-tune a sentence-transformers model on training pairs, on the CPU, within a time budget.

Distillation from the hybrid search (``app.tuning.teacher``): for each query of a batch the
model scores every passage of the batch (the answers and the teacher's best other hits), and
learns the teacher's distribution over them (KL divergence). After a few steps the plan is
cut to the steps that fit the time budget, so the learning rate warms up and decays over the
run that actually happens. A held-out slice of the pairs (whole files the training never
sees) is scored before training and at every check (the same loss, lower is better); the best
weights are kept, and training stops early when it has not improved for a few checks. The
seed is fixed, so two runs over the same pairs agree.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.tuning.pairs import TrainingPair, batches

if TYPE_CHECKING:
    from app.tuning.teacher import Batch, HybridTeacher

Progress = Callable[[int, int], None]
CHECKS_WITHOUT_GAIN = 3
CALIBRATION_STEPS = 5
"""Steps timed before the plan is cut to what fits the budget."""
SCALE = 20.0
"""Cosines times this are the logits of both student and teacher (a temperature of 0.05)."""
HELD_OUT_QUERIES = 96
"""Held-out queries scored at each check: enough to be steady, few enough to be quick."""


@dataclass(frozen=True)
class TrainingOptions:
    """How to train: the budget, batch size, epochs, learning rate and seed."""

    budget_seconds: float = 3600.0
    batch_size: int = 16
    epochs: int = 1
    learning_rate: float = 2e-5
    warmup_share: float = 0.1
    checks: int = 10
    max_seq_length: int = 128
    """Tokens of a text trained on: half the default model's 256, for about twice the steps."""
    seed: int = 0


@dataclass(frozen=True)
class TrainingRun:
    """What training did, for the model card and the summary line."""

    steps: int
    planned_steps: int
    pairs: int
    passages_per_query: float
    seconds: float
    held_out_loss_before: float
    held_out_loss_after: float
    stopped: str

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the card."""
        return asdict(self)


def train(
    base: str,
    pairs: Sequence[TrainingPair],
    held_out: Sequence[TrainingPair],
    out: Path,
    options: TrainingOptions,
    teacher: HybridTeacher,
    on_progress: Progress | None = None,
) -> TrainingRun:
    """Train a copy of ``base`` (a local model folder) to score as ``teacher`` does; save it.

    The best weights by the held-out loss go to ``out``.
    """
    import torch
    from sentence_transformers import SentenceTransformer

    started = time.perf_counter()
    random.seed(options.seed)
    torch.manual_seed(options.seed)
    model = SentenceTransformer(base, device="cpu")
    serving_length = model.max_seq_length  # what the index embeds with; training cuts shorter
    model.max_seq_length = options.max_seq_length
    plan = [
        batch
        for epoch in range(options.epochs)
        for batch in batches(pairs, options.batch_size, options.seed + epoch)
    ]
    planned = len(plan)
    optimizer = torch.optim.AdamW(model.parameters(), lr=options.learning_rate)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: _learning_rate_share(step, len(plan), options.warmup_share)
    )
    held_out_batches = _HeldOut(teacher, held_out, options.batch_size)
    check_started = time.perf_counter()
    keeper = _BestWeights(model, held_out_batches)  # scores the base model: one check's time
    check_seconds = time.perf_counter() - check_started
    check_every = max(1, len(plan) // max(1, options.checks))
    steps, stopped, passages, queries = 0, "done", 0, 0
    training_started = time.perf_counter()
    for steps, batch in enumerate(plan, start=1):
        if time.perf_counter() - started > options.budget_seconds:
            steps, stopped = steps - 1, "budget"
            break
        if steps == CALIBRATION_STEPS + 1:
            fitted = _steps_that_fit(
                done=CALIBRATION_STEPS,
                step_seconds=(time.perf_counter() - training_started) / CALIBRATION_STEPS,
                left_seconds=options.budget_seconds - (time.perf_counter() - started),
                check_seconds=check_seconds,
                checks=options.checks,
            )
            if fitted < len(plan):
                del plan[fitted:]  # the schedule warms up and decays over what fits
                check_every = max(1, len(plan) // max(1, options.checks))
                stopped = "budget"
        scored = teacher.batch(batch)
        target = teacher.logits(scored, SCALE)
        model.train()
        value = distillation_loss(model, scored, target)
        value.backward()
        passages, queries = passages + len(scored.passages), queries + len(scored.queries)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        if on_progress is not None:
            on_progress(steps, len(plan))
        if (steps % check_every == 0 or steps == len(plan)) and keeper.check() == "stop":
            stopped = "converged"
            break
    if steps % check_every and steps < len(plan):
        keeper.check()
    keeper.restore()
    model.max_seq_length = serving_length
    out.mkdir(parents=True, exist_ok=True)
    model.save(str(out), create_model_card=False, safe_serialization=True)
    run = TrainingRun(
        steps=steps,
        planned_steps=planned,
        pairs=len(pairs),
        passages_per_query=round(passages / max(1, queries), 2),
        seconds=round(time.perf_counter() - started, 1),
        held_out_loss_before=round(-keeper.before, 4),
        held_out_loss_after=round(-keeper.best, 4),
        stopped=stopped,
    )
    return run


def _learning_rate_share(step: int, total: int, warmup_share: float) -> float:
    """Linear warm-up over the first ``warmup_share`` of ``total`` steps, then linear decay."""
    warmup = max(1, int(total * warmup_share))
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


def _steps_that_fit(
    *, done: int, step_seconds: float, left_seconds: float, check_seconds: float, checks: int
) -> int:
    """How many steps in all fit the budget, leaving time for the held-out checks."""
    for_steps = left_seconds - check_seconds * checks
    return done + max(1, int(for_steps / max(step_seconds, 1e-6)))


def distillation_loss(model: Any, batch: Batch, target: Any) -> Any:
    """KL divergence of the model's scores of a batch from the teacher's (``target`` logits)."""
    import torch.nn.functional as F

    queries = _embed(model, batch.queries)
    passages = _embed(model, batch.passages)
    student = SCALE * queries @ passages.T
    return F.kl_div(F.log_softmax(student, dim=1), F.softmax(target, dim=1), reduction="batchmean")


class _HeldOut:
    """Held-out batches with the teacher's scores, made once: the loss on them, at each check.

    One query a chunk, its last (a sentence when it has one: the hardest).
    """

    def __init__(self, teacher: HybridTeacher, pairs: Sequence[TrainingPair], size: int) -> None:
        one_a_chunk = list({pair.chunk_id: pair for pair in pairs}.values())[:HELD_OUT_QUERIES]
        self.batches = [
            (scored, teacher.logits(scored, SCALE))
            for scored in (
                teacher.batch(one_a_chunk[start : start + size])
                for start in range(0, len(one_a_chunk), size)
            )
            if len(scored.queries) > 1
        ]

    def score(self, model: Any) -> float:
        """Minus the mean held-out loss (higher is better)."""
        import torch

        model.eval()
        with torch.no_grad():
            losses = [float(distillation_loss(model, *entry)) for entry in self.batches]
        return -sum(losses) / len(losses)


def write_card(out: Path, card: dict[str, Any]) -> None:
    """The model card: what the model was tuned from and on, and how it scored (JSON + text)."""
    (out / "ragkit-tune.json").write_text(json.dumps(card, indent=2) + "\n", "utf-8")
    lines = [
        f"# {out.name}",
        "",
        f"Tuned by `rag tune` from {card['base_model']} on {card['chunks']} chunks of "
        f"{card['index']}, with no labels.",
        "",
        *(f"- {name}: {value}" for name, value in card["pairs_by_kind"].items()),
        f"- passages scored a query: {card['training']['passages_per_query']} (its own and the"
        " teacher's best other hits)",
        f"- training steps: {card['training']['steps']} of {card['training']['planned_steps']}"
        f" ({card['training']['stopped']}), {card['training']['seconds']} s",
        f"- held-out loss: {card['training']['held_out_loss_before']} before, "
        f"{card['training']['held_out_loss_after']} after",
        "",
        "Use it: set RAG_EMBED_MODEL to this folder and re-embed (`rag tune --apply` did it"
        " if it was given).",
    ]
    (out / "README.md").write_text("\n".join(lines) + "\n", "utf-8")


class _BestWeights:
    """The held-out score at each check, and the weights of the best one (ties: the newest).

    Without held-out batches there is nothing to compare: the last weights are kept.
    """

    def __init__(self, model: Any, held_out: _HeldOut) -> None:
        self._model = model
        self._held_out = held_out if held_out.batches else None
        self.before = self.best = self._held_out.score(model) if self._held_out else 0.0
        self._state: dict[str, Any] | None = _copy_state(model) if self._held_out else None
        self._without_gain = 0

    def check(self) -> str:
        """Score the model now; "stop" after CHECKS_WITHOUT_GAIN checks without a gain."""
        if self._held_out is None:
            return "go on"
        score = self._held_out.score(self._model)
        if score >= self.best:
            self._state = _copy_state(self._model)
        if score > self.best:
            self.best, self._without_gain = score, 0
            return "go on"
        self._without_gain += 1
        return "stop" if self._without_gain >= CHECKS_WITHOUT_GAIN else "go on"

    def restore(self) -> None:
        """Put the best weights back into the model (the last ones without held-out pairs)."""
        if self._state is not None:
            self._model.load_state_dict(self._state)


def _embed(model: Any, texts: list[str]) -> Any:
    """Normalised embeddings with gradients (``preprocess`` in sentence-transformers 6)."""
    import torch.nn.functional as F

    prepare = getattr(model, "preprocess", None) or model.tokenize
    return F.normalize(model(prepare(texts))["sentence_embedding"], dim=-1)


def _copy_state(model: Any) -> dict[str, Any]:
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
