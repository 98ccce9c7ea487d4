"""The option types and the shared state every group of ``rag`` commands uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Protocol

import typer

if TYPE_CHECKING:
    from app.api import Rag
    from app.config.settings import Settings

Guard = Callable[[Callable[[], Any], bool], Any]
"""Runs a command body: errors become one line on stderr (``commands.guarded``)."""

CollectionOption = Annotated[
    str | None,
    typer.Option(
        "--collection", "-c", help="Collection to use [env: RAG_COLLECTION; default: default]."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
WaitOption = Annotated[
    float,
    typer.Option("--wait", help="Seconds to wait while another ingest writes the index."),
]
IndexTypeOption = Annotated[
    str | None,
    typer.Option("--index-type", help="flat, hnsw, ivf-sq8 or auto [env: RAG_INDEX_TYPE]."),
]


class CommandState(Protocol):
    """What the commands need of the app's shared state (global flags)."""

    debug: bool

    def settings(self, **more: Any) -> Settings:
        """Settings from the global flags plus ``more``."""
        ...

    def rag(self, **more: Any) -> Rag:
        """A Rag built from ``settings(**more)``."""
        ...
