"""The commands around models: models, pull, eval, tune.

``register`` adds them to the ``rag`` app; each body runs through the app's error guard.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from app.cli.display import ProgressBar, human_size, table_lines
from app.cli.options import CollectionOption, CommandState, Guard, JsonOption
from retrievers.modes import MODES

if TYPE_CHECKING:
    from app.api import LocalModels
    from app.evaluation import EvalReport
    from retrievers.modes import Mode


def register(cli: typer.Typer, guarded: Guard) -> None:
    """Add the model commands to ``cli``, their bodies run by ``guarded``."""

    @cli.command()
    def models(
        ctx: typer.Context,
        json_output: JsonOption = False,
    ) -> None:
        """List chat GGUF models already on this machine and the one `auto` answers with."""
        state: CommandState = ctx.obj

        def run() -> None:
            from app.api import local_models

            found = local_models(state.settings())
            if json_output:
                typer.echo(json.dumps(found.to_dict(), ensure_ascii=False))
                return
            for line in models_table(found):
                typer.echo(line)

        guarded(run, state.debug)

    @cli.command(name="eval")
    def evaluate(
        ctx: typer.Context,
        dataset: Annotated[
            Path, typer.Argument(help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/test.tsv.")
        ],
        mode: Annotated[
            str, typer.Option("--mode", help="hybrid, dense, bm25, or all three.")
        ] = "hybrid",
        index: Annotated[
            Path | None, typer.Option("--index", help="Keep (and reuse) the corpus index here.")
        ] = None,
        chunk_size: Annotated[
            int,
            typer.Option(
                "--chunk-size", help="Chunk size for the corpus (BEIR documents are short)."
            ),
        ] = 2000,
        k: Annotated[int, typer.Option("--k", help="Cutoff of nDCG, Recall and MRR.")] = 10,
        answers: Annotated[
            bool,
            typer.Option("--answers", help="Also answer answers.jsonl's questions and score them."),
        ] = False,
        limit: Annotated[
            int | None, typer.Option("--limit", help="With --answers: the first N questions.")
        ] = None,
        json_output: JsonOption = False,
        compare_model: Annotated[
            str | None,
            typer.Option(
                "--compare-model",
                help="Also score this embedding model (a tuned folder) in the same run.",
            ),
        ] = None,
    ) -> None:
        """Measure retrieval on a BEIR dataset: nDCG@k, Recall@k, Recall@100, MRR@k."""
        state: CommandState = ctx.obj
        modes = list(MODES) if mode == "all" else [mode]
        if any(m not in MODES for m in modes):
            raise typer.BadParameter(f"use {', '.join(MODES)} or all", param_hint="--mode")
        if not dataset.is_dir():
            raise typer.BadParameter(f"{dataset} is not a folder", param_hint="DATASET")

        def run() -> None:
            rag = state.rag(chunk_size=chunk_size)
            with ProgressBar() as progress:
                chosen = cast("list[Mode]", modes)
                reports, corpus_index = rag.evaluate_retrieval(
                    dataset, chosen, index_dir=index, on_progress=progress, k=k
                )
            scores = rag.evaluate_answers(dataset, corpus_index, limit=limit) if answers else None
            compared: list[EvalReport] = []
            if compare_model is not None:
                from app.evaluation import compared_index_dir

                other = state.rag(chunk_size=chunk_size, embed_model=compare_model)
                other_index = compared_index_dir(index, compare_model) if index else None
                with ProgressBar() as progress:
                    compared, _ = other.evaluate_retrieval(
                        dataset, chosen, index_dir=other_index, on_progress=progress, k=k
                    )
            if json_output:
                data: dict[str, Any] = {"retrieval": [report.__dict__ for report in reports]}
                if scores is not None:
                    data["answers"] = scores
                if compare_model is not None:
                    data["compared"] = {
                        "embed_model": compare_model,
                        "retrieval": [report.__dict__ for report in compared],
                    }
                typer.echo(json.dumps(data))
                return
            if compare_model is not None:
                typer.echo(f"embedding model {rag.settings.embed_model}:")
            for report in reports:
                typer.echo(report.table())
            if compare_model is not None:
                typer.echo(f"embedding model {compare_model}:")
                for report in compared:
                    typer.echo(report.table())
            if scores is not None:
                typer.echo("answers: " + ", ".join(f"{n} {v:.4f}" for n, v in scores.items()))

        guarded(run, state.debug)

    @cli.command()
    def tune(
        ctx: typer.Context,
        budget: Annotated[
            float,
            typer.Option(
                "--budget",
                help="Minutes at most: writing questions (up to half of them), then training.",
                min=0.1,
            ),
        ] = 60.0,
        out: Annotated[
            str | None, typer.Option("--out", help="Name of the tuned model's folder.")
        ] = None,
        apply: Annotated[
            bool, typer.Option("--apply", help="Re-embed the index with the tuned model.")
        ] = False,
        questions: Annotated[
            bool | None,
            typer.Option(
                "--questions/--no-questions",
                help="Let the answer model write training questions [default: when capable].",
            ),
        ] = None,
        batch_size: Annotated[int, typer.Option("--batch-size", min=2)] = 16,
        seed: Annotated[int, typer.Option("--seed")] = 0,
        collection: CollectionOption = None,
    ) -> None:
        """Fine-tune the embedding model on your own chunks, with no labels (CPU, a time budget)."""
        state: CommandState = ctx.obj

        def run() -> None:
            from app.tuning.run import TuneOptions

            rag = state.rag(collection=collection)
            options = TuneOptions(
                budget_minutes=budget, name=out, apply=apply, batch_size=batch_size, seed=seed
            )
            with (
                ProgressBar("questions", "question") as writing,
                ProgressBar("training", "steps") as progress,
            ):
                report = rag.tune(
                    options, questions=questions, on_progress=progress, on_questions=writing
                )
            for line in report.summary():
                typer.echo(line)

        guarded(run, state.debug)

    @cli.command()
    def pull(
        ctx: typer.Context,
        model: Annotated[
            str,
            typer.Argument(help="fast, balanced, accurate, or OWNER/REPO/FILE.gguf on the hub."),
        ],
    ) -> None:
        """Download an answer model (GGUF) from the Hugging Face hub into the user data folder."""
        state: CommandState = ctx.obj

        def run() -> None:
            from app.models.pull import parse_spec, pull

            with ProgressBar(Path(parse_spec(model).filename).name, "B") as progress:
                result = pull(model, on_progress=progress)
            typer.echo(result.summary())

        guarded(run, state.debug)


def models_table(found: LocalModels) -> list[str]:
    """The lines of `rag models`: one row a model (``*`` marks auto's), memory, auto's choice."""
    if not found.models:
        lines = [
            "No chat GGUF models found (Ollama's model store, LM Studio, the Hugging Face "
            "cache, ragkit's models folder)."
        ]
    else:
        rows = [("", "name", "source", "params", "quant", "size", "fits")]
        for model, fit in zip(found.models, found.fits, strict=True):
            rows.append(
                (
                    "*" if found.is_auto(model) else "",
                    model.name,
                    model.source,
                    model.parameters_label,
                    model.quantisation,
                    human_size(model.size_bytes),
                    {True: "yes", False: "no", None: "?"}[fit],
                )
            )
        lines = table_lines(rows)
    if found.available_memory is not None:
        lines.append(
            f"free memory {human_size(found.available_memory)}; a model needs its size plus "
            f"20% and the cache of {found.context_tokens} tokens of context"
        )
    lines.append(f"auto answers with {found.auto.label} ({found.auto.reason})")
    return lines
