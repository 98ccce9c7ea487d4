"""The commands around collections: collections, drop, ls, forget, show, watch, completion.

``register`` adds them to the ``rag`` app; each body runs through the app's error guard.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from app.cli.display import human_size, table_lines
from app.cli.options import CollectionOption, CommandState, Guard, JsonOption, WaitOption

if TYPE_CHECKING:
    from app.config.settings import Settings
    from app.ingestion.loading import SkippedFile

SHELLS = ("bash", "zsh", "fish")


def register(cli: typer.Typer, guarded: Guard) -> None:
    """Add the collection commands to ``cli``, their bodies run by ``guarded``."""

    @cli.command(name="collections")
    def list_collections(ctx: typer.Context, json_output: JsonOption = False) -> None:
        """List the collections of the store: files, chunks, size, model, last ingest."""
        state: CommandState = ctx.obj
        guarded(lambda: echo_collections(state.settings(), json_output), state.debug)

    @cli.command()
    def drop(
        ctx: typer.Context,
        name: Annotated[str, typer.Argument(help="The collection to delete.")],
        yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask first.")] = False,
        wait: WaitOption = 0.0,
    ) -> None:
        """Delete a collection's index (the documents themselves stay where they are)."""
        state: CommandState = ctx.obj

        def run() -> None:
            from app.config.paths import validate_collection_name
            from app.retrieval.catalog import drop_collection

            validate_collection_name(name)
            if not yes:
                typer.confirm(
                    f"Delete the index of collection {name!r}? Your documents stay.", abort=True
                )
            where = drop_collection(state.settings(), name, wait)
            typer.echo(f"Dropped collection {name!r} ({where})")

        guarded(run, state.debug)

    @cli.command(name="ls")
    def list_files(
        ctx: typer.Context, collection: CollectionOption = None, json_output: JsonOption = False
    ) -> None:
        """List the files in a collection: chunks, pages, size and when each was indexed."""
        state: CommandState = ctx.obj

        def run() -> None:
            files = state.rag(collection=collection).documents()
            if json_output:
                typer.echo(json.dumps([f.to_dict() for f in files], ensure_ascii=False))
                return
            rows = [("source", "chunks", "pages", "size", "indexed")]
            rows += [
                (
                    f.source,
                    str(f.chunks),
                    str(f.pages or "-"),
                    human_size(f.size),
                    f.indexed_at or "-",
                )
                for f in files
            ]
            for line in table_lines(rows):
                typer.echo(line)
            typer.echo(f"{len(files)} files, {sum(f.chunks for f in files)} chunks")

        guarded(run, state.debug)

    @cli.command()
    def forget(
        ctx: typer.Context,
        paths: Annotated[
            list[str],
            typer.Argument(help="Files to remove, by source (as `rag ls` shows) or path."),
        ],
        collection: CollectionOption = None,
        wait: WaitOption = 0.0,
    ) -> None:
        """Remove files from the index; the files on disk are not touched."""
        state: CommandState = ctx.obj

        def run() -> None:
            typer.echo(state.rag(collection=collection).forget(paths, wait).summary())

        guarded(run, state.debug)

    @cli.command()
    def show(
        ctx: typer.Context,
        source: Annotated[str, typer.Argument(help="A file as `rag ls` shows it, or FILE:PAGE.")],
        collection: CollectionOption = None,
        json_output: JsonOption = False,
    ) -> None:
        """Print the chunks of one file as indexed (what the splitter made of it)."""
        state: CommandState = ctx.obj

        def run() -> None:
            from app.errors import NotInIndexError

            rag = state.rag(collection=collection)
            try:
                chunks = rag.chunks_of(source)
            except NotInIndexError:
                name, page = split_page(source)
                if page is None:
                    raise
                chunks = [c for c in rag.chunks_of(name) if c.page == page]
                if not chunks:
                    raise NotInIndexError(f"{name} has no page {page} in the index") from None
            if json_output:
                typer.echo(json.dumps([c.to_dict() for c in chunks], ensure_ascii=False))
                return
            for chunk in chunks:
                where = f"{chunk.location} · chunk {chunk.chunk}"
                if chunk.start_index is not None:
                    where += (
                        f" · characters {chunk.start_index}-{chunk.start_index + len(chunk.text)}"
                    )
                typer.echo(f"── {where}")
                typer.echo(chunk.text.rstrip() + "\n")
            typer.echo(f"{len(chunks)} chunks")

        guarded(run, state.debug)

    @cli.command()
    def watch(
        ctx: typer.Context,
        paths: Annotated[list[Path], typer.Argument(help="Files or folders to keep in sync.")],
        collection: CollectionOption = None,
        wait: Annotated[
            float,
            typer.Option("--wait", help="Seconds a sync waits while another ingest writes."),
        ] = 600.0,
    ) -> None:
        """Sync folders now, then again whenever their files change (Ctrl-C stops)."""
        state: CommandState = ctx.obj

        def run() -> None:
            from app.errors import InputPathError
            from app.ingestion.run import IngestOptions
            from app.ingestion.watching import Watcher, stop_on_interrupt, watch_paths

            roots = watch_paths(paths)
            if not any(root.exists() for root in roots):
                raise InputPathError(f"none of {', '.join(map(str, roots))} exists")
            rag = state.rag(collection=collection)
            options = IngestOptions(wait_seconds=wait)

            def say(line: str) -> None:
                typer.echo(line, err=True)

            watcher = Watcher(
                roots,
                sync=lambda present: rag.ingest(present, options=options, on_skip=warn_skipped),
                on_report=lambda report: typer.echo(report.summary()),
                on_warning=lambda line: say(f"warning: {line}"),
                on_start=lambda changes: say(
                    f"syncing after {changes} change{'s' if changes != 1 else ''}"
                    if changes
                    else "syncing"
                ),
                ignore_under=[Path(rag.store.location)],
            )
            say(f"watching {', '.join(map(str, roots))} for {rag.store.location} (Ctrl-C stops)")
            with stop_on_interrupt(watcher, say):
                watcher.run()
            say(f"stopped after {watcher.syncs} syncs")

        guarded(run, state.debug)

    @cli.command()
    def completion(
        shell: Annotated[str, typer.Argument(help="bash, zsh or fish.")],
    ) -> None:
        """Print the shell completion script (e.g. `rag completion bash >> ~/.bashrc`)."""
        if shell not in SHELLS:
            raise typer.BadParameter(f"use {', '.join(SHELLS)}", param_hint="SHELL")
        from typer._completion_shared import get_completion_script

        typer.echo(
            get_completion_script(prog_name="rag", complete_var="_RAG_COMPLETE", shell=shell)
        )


def echo_collections(settings: Settings, json_output: bool) -> None:
    """Print the store's collections as a table (``rag collections``, ``rag status --all``)."""
    from app.retrieval.catalog import collections

    found = collections(settings)
    if json_output:
        typer.echo(json.dumps([c.to_dict() for c in found], ensure_ascii=False))
        return
    if not found:
        typer.echo("No collections yet: `rag ingest PATH [--collection NAME]` makes one.")
        return
    rows = [("", "name", "files", "chunks", "size", "embedding", "last ingest")]
    for c in found:
        rows.append(
            (
                "*" if c.in_use else "",
                c.name,
                str(c.files),
                str(c.chunks),
                human_size(c.size_bytes),
                c.embedding or f"({c.problem})",
                c.last_ingest,
            )
        )
    for line in table_lines(rows):
        typer.echo(line)


def warn_skipped(skipped: SkippedFile) -> None:
    """One warning line on stderr for a file an ingest skipped (or read only in part)."""
    typer.echo(skipped.warning_line(), err=True)


def split_page(text: str) -> tuple[str, int | None]:
    """``("a.pdf", 3)`` for ``a.pdf:3``; ``(text, None)`` when it ends in no page number."""
    match = re.fullmatch(r"(.+):(\d+)", text)
    return (match.group(1), int(match.group(2))) if match else (text, None)
