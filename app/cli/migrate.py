"""``rag migrate``: copy the index between the local store and Postgres, embedding nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from app.api import Rag

MIGRATE_TARGETS = ("postgres", "local")


def _target(value: str) -> str:
    if value not in MIGRATE_TARGETS:
        raise typer.BadParameter(f"must be postgres or local, not {value!r}")
    return value


TargetOption = Annotated[
    str,
    typer.Option(
        "--to",
        help="Where to copy the index: postgres (RAG_POSTGRES_URL) or local (RAG_INDEX_DIR).",
        callback=_target,
        show_default=False,
    ),
]


def migrate_and_report(
    rag: Rag,
    to: str,
    wait: float,
    json_output: bool,
    progress: Callable[[int, int], None] | None,
) -> str:
    """Copy the index to ``to`` and return what to print: the summary line or JSON."""
    report = rag.migrate(to, wait, on_progress=progress)
    return json.dumps(report.__dict__) if json_output else report.summary()
