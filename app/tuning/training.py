"""Fine-tune a sentence-transformers model on training pairs, on the CPU, within a time budget.

MultipleNegativesRankingLoss: each query must pick its own passage out of the batch (and its
hard negatives, when every pair of the batch has one). After a few steps the plan is cut to
the steps that fit the time budget, so the learning rate warms up and decays over the run
that actually happens. A held-out slice of the pairs (whole files the training never sees) is
scored before training and at every check; the best weights are kept, and training stops
early when the score has not improved for a few checks. The seed is fixed, so two runs over
the same pairs agree.
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
    from app.tuning.negatives import HardNegatives

Progress = Callable[[int, int], None]
CHECKS_WITHOUT_GAIN = 3
CALIBRATION_STEPS = 5
"""Steps timed before the plan is cut to what fits the budget."""


@dataclass(frozen=True)
class TrainingOptions:
    """How to train: the budget, batch size, epochs, learning rate and seed."""

    budget_seconds: float = 3600.0
    batch_size: int = 32
    epochs: int = 1
    learning_rate: float = 2e-5
    warmup_share: float = 0.1
    checks: int = 10
    max_seq_length: int = 256
    seed: int = 0


@dataclass(frozen=True)
class TrainingRun:
    """What training did, for the model card and the summary line."""

    steps: int
    planned_steps: int
    pairs: int
    hard_negatives: int
    seconds: float
    held_out_before: float
    held_out_after: float
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
    on_progress: Progress | None = None,
    negatives: HardNegatives | None = None,
) -> TrainingRun:
    """Train a copy of ``base`` (a local model folder) and save the best weights to ``out``.

    ``negatives`` gives each batch's pairs a hard negative as training reaches the batch.
    """
    import torch
    from sentence_transformers import SentenceTransformer

    started = time.perf_counter()
    random.seed(options.seed)
    torch.manual_seed(options.seed)
    model = SentenceTransformer(base, device="cpu")
    model.max_seq_length = options.max_seq_length
    loss = _ranking_loss(model)
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
    check_started = time.perf_counter()
    keeper = _BestWeights(model, held_out)
    check_seconds = time.perf_counter() - check_started
    check_every = max(1, len(plan) // max(1, options.checks))
    steps, stopped, with_negative = 0, "done", 0
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
        model.train()
        if negatives is not None:
            batch = negatives.for_batch(batch)
        texts = [[pair.query for pair in batch], [pair.passage for pair in batch]]
        if all(pair.negative for pair in batch):
            texts.append([pair.negative for pair in batch])
            with_negative += len(batch)
        features = [_features(model, group) for group in texts]
        value = loss(features, None)
        value.backward()
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
    out.mkdir(parents=True, exist_ok=True)
    model.save(str(out), create_model_card=False, safe_serialization=True)
    run = TrainingRun(
        steps=steps,
        planned_steps=planned,
        pairs=len(pairs),
        hard_negatives=with_negative,
        seconds=round(time.perf_counter() - started, 1),
        held_out_before=round(keeper.before, 4),
        held_out_after=round(keeper.best, 4),
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


def held_out_accuracy(model: Any, held_out: Sequence[TrainingPair]) -> float:
    """Share of held-out queries whose own passage is the closest of all held-out passages.

    One pair a chunk, its last (a sentence when it has one: the hardest): a second sentence
    pair of the same chunk would hold the first query's sentence in its passage, and win for
    the wrong reason.
    """
    if not held_out:
        return 0.0
    import numpy as np

    model.eval()
    one_a_chunk = list({pair.chunk_id: pair for pair in held_out}.values())
    queries = model.encode(
        [pair.query for pair in one_a_chunk], normalize_embeddings=True, convert_to_numpy=True
    )
    targets = model.encode(
        [pair.passage for pair in one_a_chunk], normalize_embeddings=True, convert_to_numpy=True
    )
    best = np.argmax(queries @ targets.T, axis=1)
    return float(np.mean(best == np.arange(len(one_a_chunk))))


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
        f"- pairs trained with a hard negative: {card['training']['hard_negatives']}",
        f"- training steps: {card['training']['steps']} of {card['training']['planned_steps']}"
        f" ({card['training']['stopped']}), {card['training']['seconds']} s",
        f"- held-out accuracy@1: {card['training']['held_out_before']} before, "
        f"{card['training']['held_out_after']} after",
        "",
        "Use it: set RAG_EMBED_MODEL to this folder and re-embed (`rag tune --apply` did it"
        " if it was given).",
    ]
    (out / "README.md").write_text("\n".join(lines) + "\n", "utf-8")


def _ranking_loss(model: Any) -> Any:
    import importlib

    try:
        losses = importlib.import_module("sentence_transformers.sentence_transformer.losses")
    except ImportError:  # sentence-transformers before 6
        losses = importlib.import_module("sentence_transformers.losses")
    return losses.MultipleNegativesRankingLoss(model)


class _BestWeights:
    """The held-out score at each check, and the weights of the best one (ties: the newest).

    Without held-out pairs there is nothing to compare: the last weights are kept.
    """

    def __init__(self, model: Any, held_out: Sequence[TrainingPair]) -> None:
        self._model = model
        self._held_out = held_out
        self.before = self.best = held_out_accuracy(model, held_out) if held_out else 0.0
        self._state: dict[str, Any] | None = _copy_state(model) if held_out else None
        self._without_gain = 0

    def check(self) -> str:
        """Score the model now; "stop" after CHECKS_WITHOUT_GAIN checks without a gain."""
        if not self._held_out:
            return "go on"
        score = held_out_accuracy(self._model, self._held_out)
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


def _features(model: Any, texts: list[str]) -> Any:
    """Tokenised texts (``preprocess`` in sentence-transformers 6, ``tokenize`` before)."""
    prepare = getattr(model, "preprocess", None) or model.tokenize
    return prepare(texts)


def _copy_state(model: Any) -> dict[str, Any]:
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
