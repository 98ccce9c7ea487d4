"""``rag migrate``: copy the index between the local store and Postgres, embedding nothing."""

from __future__ import annotations

import json
from typing import Annotated

import typer

MIGRATE_TARGETS = ("postgres", "local")


def migrate(
    ctx: typer.Context,
    to: Annotated[
        str,
        typer.Option(
            "--to", help="Where to copy the index: postgres or local.", show_default=False
        ),
    ],
    wait: Annotated[
        float,
        typer.Option("--wait", help="Seconds to wait while another ingest writes either store."),
    ] = 0.0,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Copy chunks, vectors and file hashes to the other store, embedding nothing."""
    from app.cli.commands import CliState, _progress_bar, guarded

    state: CliState = ctx.obj
    if to not in MIGRATE_TARGETS:
        raise typer.BadParameter(f"must be postgres or local, not {to!r}", param_hint="--to")

    def run() -> None:
        rag = state.rag()
        with _progress_bar("Copying") as progress:
            report = rag.migrate(to, wait, on_progress=progress)
        typer.echo(json.dumps(report.__dict__) if json_output else report.summary())

    guarded(run, state.debug)
