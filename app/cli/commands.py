"""The ``rag`` command: ingest, ask, chat, status, reindex, migrate, doctor, serve, mcp.

The model commands (``model_commands``) and the collection commands (``library``) register
themselves on the same app. Heavy imports (torch, faiss, LangChain) happen inside the commands
that need them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from app.cli import migrate as migrate_command
from app.cli.display import ProgressBar, human_size
from app.cli.library import echo_collections, warn_skipped
from app.cli.library import register as register_library
from app.cli.model_commands import register as register_model_commands
from app.cli.options import CollectionOption, IndexTypeOption, JsonOption, WaitOption
from app.errors import RagError, UsageError, exit_code_of, one_line

if TYPE_CHECKING:
    from app.api import Rag
    from app.config.settings import Settings

cli = typer.Typer(
    name="rag",
    help="Ask questions about your own documents, locally, with citations.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    # Plain help: rendering it with rich costs more start-up time than the rest of `rag --help`.
    rich_markup_mode=None,
)

T = TypeVar("T")


@dataclass
class CliState:
    """Setting overrides given as global flags, shared by every command."""

    overrides: dict[str, Any] = field(default_factory=dict)
    env_file: Path | None = None
    debug: bool = False

    def settings(self, **more: Any) -> Settings:
        """Settings from these flags (plus per-command ones) over env, .env and defaults."""
        from app.config.settings import load_settings

        merged = {**self.overrides, **{k: v for k, v in more.items() if v is not None}}
        return load_settings(merged, env_file=self.env_file)

    def rag(self, **more: Any) -> Rag:
        """A Rag built from ``settings(**more)``."""
        from app.api import Rag

        return Rag(self.settings(**more))


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print a one-line error on stderr and return the Exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def guarded(action: Callable[[], T], debug: bool = False) -> T:
    """Run a command body; errors become one line on stderr (tracebacks only with --debug)."""
    try:
        return action()
    except (typer.Exit, typer.Abort):
        raise
    except (Exception, KeyboardInterrupt) as error:
        expected = isinstance(error, RagError | KeyboardInterrupt)
        if debug and not expected:
            raise
        hint = "" if expected else " (run with --debug for the traceback)"
        raise fail(one_line(error) + hint, exit_code_of(error)) from None


@cli.callback()
def options(
    ctx: typer.Context,
    index_dir: Annotated[
        Path | None, typer.Option("--index-dir", help="Index folder [env: RAG_INDEX_DIR].")
    ] = None,
    collection: CollectionOption = None,
    embed_provider: Annotated[
        str | None,
        typer.Option("--embed-provider", help="huggingface or ollama [env: RAG_EMBED_PROVIDER]."),
    ] = None,
    embed_model: Annotated[
        str | None, typer.Option("--embed-model", help="Embedding model [env: RAG_EMBED_MODEL].")
    ] = None,
    embed_backend: Annotated[
        str | None,
        typer.Option("--embed-backend", help="torch, onnx or onnx-int8 [env: RAG_EMBED_BACKEND]."),
    ] = None,
    llm_provider: Annotated[
        str | None,
        typer.Option(
            "--llm-provider", help="auto, llamacpp, ollama or none [env: RAG_LLM_PROVIDER]."
        ),
    ] = None,
    llm_model: Annotated[
        str | None,
        typer.Option("--llm-model", help="GGUF path or Ollama model [env: RAG_LLM_MODEL]."),
    ] = None,
    env_file: Annotated[
        Path | None, typer.Option("--env-file", help="Settings file [default: ./.env].")
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks of unexpected errors.")
    ] = False,
) -> None:
    """Settings come from these flags, then RAG_* variables, then .env, then defaults."""
    ctx.obj = CliState(
        overrides={
            "index_dir": index_dir,
            "collection": collection,
            "embed_provider": embed_provider,
            "embed_model": embed_model,
            "embed_backend": embed_backend,
            "llm_provider": llm_provider,
            "llm_model": llm_model,
        },
        env_file=env_file,
        debug=debug,
    )


@cli.command()
def ingest(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to index.", exists=True)],
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Start a new index instead of updating.")
    ] = False,
    chunk_size: Annotated[
        int | None, typer.Option("--chunk-size", help="[env: RAG_CHUNK_SIZE]")
    ] = None,
    chunk_overlap: Annotated[
        int | None, typer.Option("--chunk-overlap", help="[env: RAG_CHUNK_OVERLAP]")
    ] = None,
    index_type: IndexTypeOption = None,
    wait: WaitOption = 0.0,
    follow_symlinks: Annotated[
        bool,
        typer.Option("--follow-symlinks", help="Follow symlinks that leave the folder."),
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail, writing nothing, if any file is skipped.")
    ] = False,
    no_prune: Annotated[
        bool,
        typer.Option("--no-prune", help="Keep the chunks of files deleted from the folders."),
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    collection: CollectionOption = None,
) -> None:
    """Index text, Markdown, PDF and HTML files (folders are walked recursively)."""
    state: CliState = ctx.obj

    def run() -> None:
        from app.ingestion.run import IngestOptions

        rag = state.rag(
            collection=collection,
            chunk_size=chunk_size,
            chunk_overlap=chunk_overlap,
            index_type=index_type,
        )
        options = IngestOptions(
            rebuild=rebuild,
            wait_seconds=wait,
            follow_symlinks=follow_symlinks,
            strict=strict,
            prune=not no_prune,
        )
        with ProgressBar() as progress:
            report = rag.ingest(paths, options=options, on_skip=warn_skipped, on_progress=progress)
        if json_output:
            typer.echo(json.dumps(report.to_dict(), ensure_ascii=False))
        else:
            typer.echo(report.summary())

    guarded(run, state.debug)


@cli.command()
def ask(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="Your question.")],
    k: Annotated[
        int | None, typer.Option("--k", "-k", help="Chunks to retrieve [env: RAG_TOP_K].")
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object: answer and sources.")
    ] = False,
    retrieve_only: Annotated[
        bool, typer.Option("--retrieve-only", help="Show the sources; do not call an LLM.")
    ] = False,
    source: Annotated[
        str | None,
        typer.Option("--source", help="Only search files matching this glob, e.g. '*.pdf'."),
    ] = None,
    mmr: Annotated[
        bool, typer.Option("--mmr", help="Prefer varied sources (maximal marginal relevance).")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Ask the model even when no passage is close.")
    ] = False,
    no_stream: Annotated[
        bool, typer.Option("--no-stream", help="Print the answer when it is complete.")
    ] = False,
    collection: CollectionOption = None,
) -> None:
    """Answer a question from the indexed documents, citing the sources."""
    state: CliState = ctx.obj

    def run() -> None:
        from app.answers import SearchOptions

        rag = state.rag(
            collection=collection, top_k=k, llm_provider="none" if retrieve_only else None
        )
        if not question.strip():
            raise UsageError("the question is empty")
        rag.index()
        retrieval_only = rag.llm is None
        search = SearchOptions(source_glob=source, mmr=mmr, force=force)
        if json_output:
            data = rag.ask(question, search).to_dict()
            if retrieval_only:
                data["answer"] = None
            typer.echo(json.dumps(data, ensure_ascii=False))
            return
        from app.cli.display import footer_lines, passage_lines, show_answer

        stream = rag.stream(question, search)
        terminal = sys.stdout.isatty()
        answer = show_answer(stream, sys.stdout, live=not no_stream, markdown=terminal)
        lines = passage_lines(answer.sources) if retrieval_only else []
        for line in lines + footer_lines(answer, compact=False):
            typer.echo(line)

    guarded(run, state.debug)


@cli.command()
def chat(
    ctx: typer.Context,
    k: Annotated[
        int | None, typer.Option("--k", "-k", help="Chunks to retrieve [env: RAG_TOP_K].")
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="One JSON object a line for each answer.")
    ] = False,
    no_stream: Annotated[
        bool, typer.Option("--no-stream", help="Print each answer when it is complete.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Ask the model even when no passage is close.")
    ] = False,
    collection: CollectionOption = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the last conversation (or the one ID names).")
    ] = False,
    conversation: Annotated[
        str | None, typer.Argument(help="With --resume: the conversation's id (or its start).")
    ] = None,
    list_saved: Annotated[
        bool, typer.Option("--list", help="List the saved conversations and exit.")
    ] = False,
    no_save: Annotated[
        bool, typer.Option("--no-save", help="Do not keep this conversation on disk.")
    ] = False,
) -> None:
    """Ask questions one after another (reads lines from stdin when it is piped).

    Each conversation is kept in ragkit's data folder; `--resume` continues one.
    """
    state: CliState = ctx.obj

    def run() -> None:
        from app.cli.chat import ChatSession, conversation_table, open_conversation

        if list_saved:
            for line in conversation_table():
                typer.echo(line)
            return
        if conversation is not None and not resume:
            raise UsageError("a conversation id goes with --resume ID")
        opened = open_conversation(resume, conversation, save=not no_save)
        chosen = collection
        if resume and state.settings(collection=collection).origin("collection") == "default":
            chosen = opened.collection or None
        rag = state.rag(collection=chosen, top_k=k)
        rag.index()
        if opened.resumed:
            typer.echo(
                f"continuing conversation {opened.id}: {len(opened.resumed)} earlier answers",
                err=True,
            )
        ChatSession(
            rag,
            interactive=sys.stdin.isatty(),
            json_lines=json_output,
            live=not no_stream,
            force=force,
            log=opened.log,
            resumed=opened.resumed,
        ).run()

    guarded(run, state.debug)


@cli.command()
def status(
    ctx: typer.Context,
    json_output: JsonOption = False,
    collection: CollectionOption = None,
    every_collection: Annotated[
        bool, typer.Option("--all", help="List every collection of the store instead.")
    ] = False,
) -> None:
    """Describe the index: files, chunks, embedding model, size, when it was built."""
    state: CliState = ctx.obj

    def run() -> None:
        from app.retrieval.catalog import index_status

        if every_collection:
            echo_collections(state.settings(collection=collection), json_output)
            return
        info = index_status(state.settings(collection=collection))
        if json_output:
            typer.echo(json.dumps(info.to_dict(), ensure_ascii=False))
            return
        chunking = info.chunking
        rows = [
            ("index", info.index_dir),
            ("files", str(info.files)),
            ("chunks", str(info.chunks)),
            ("embedding", f"{info.embedding} ({info.dimension} dimensions)"),
            (
                "chunking",
                f"{chunking.chunk_size} characters, {chunking.chunk_overlap} overlap",
            ),
            ("search", info.index_type),
            ("size", human_size(info.size_bytes)),
            ("built", info.created_at),
        ]
        for name, value in rows:
            typer.echo(f"{name:<10} {value}")

    guarded(run, state.debug)


@cli.command()
def reindex(
    ctx: typer.Context,
    index_type: IndexTypeOption = None,
    vector_dtype: Annotated[
        str | None,
        typer.Option("--vector-dtype", help="float32 or float16 [env: RAG_VECTOR_DTYPE]."),
    ] = None,
    wait: WaitOption = 0.0,
    collection: CollectionOption = None,
) -> None:
    """Rebuild the index as another index type from its stored vectors (nothing is embedded)."""
    state: CliState = ctx.obj

    def run() -> None:
        rag = state.rag(collection=collection, index_type=index_type, vector_dtype=vector_dtype)
        typer.echo(rag.reindex(wait).summary())

    guarded(run, state.debug)


@cli.command()
def migrate(
    ctx: typer.Context,
    to: migrate_command.TargetOption,
    wait: WaitOption = 0.0,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Copy chunks, vectors and file hashes to the other store, embedding nothing."""
    state: CliState = ctx.obj

    def run() -> None:
        with ProgressBar("Copying") as progress:
            typer.echo(
                migrate_command.migrate_and_report(state.rag(), to, wait, json_output, progress)
            )

    guarded(run, state.debug)


@cli.command()
def doctor(
    ctx: typer.Context,
    json_output: JsonOption = False,
    collection: CollectionOption = None,
) -> None:
    """Check everything answering depends on; exit 1 when something blocks it."""
    state: CliState = ctx.obj

    def run() -> int:
        from app.cli.doctor import exit_code, render_table, run_checks, to_json

        rag = state.rag(collection=collection)
        checks = run_checks(rag.settings, rag.store)
        if json_output:
            typer.echo(json.dumps(to_json(checks), ensure_ascii=False))
        else:
            typer.echo(render_table(checks))
        return exit_code(checks)

    code = guarded(run, state.debug)
    if code:
        raise typer.Exit(code)


@cli.command()
def serve(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (others need RAG_SERVE_TOKEN).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="Port to listen on.", min=1, max=65535)
    ] = 8000,
    collection: CollectionOption = None,
) -> None:
    """Serve the web app, the HTTP API (/api) and an OpenAI-compatible API (/v1)."""
    state: CliState = ctx.obj

    def run() -> None:
        from app.cli.serve import run_serve

        run_serve(state.rag(collection=collection), host, port)

    guarded(run, state.debug)


@cli.command(name="mcp")
def mcp_server(
    ctx: typer.Context,
    transport: Annotated[
        str, typer.Option("--transport", help="stdio, or http (streamable HTTP at /mcp).")
    ] = "stdio",
    host: Annotated[
        str, typer.Option("--host", help="http: address (others need RAG_SERVE_TOKEN).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="http: port.", min=1, max=65535)] = 8001,
    allow_ingest: Annotated[
        bool, typer.Option("--allow-ingest", help="Offer ingest_path, inside --root folders.")
    ] = False,
    roots: Annotated[
        list[Path] | None,
        typer.Option("--root", metavar="FOLDER", help="A folder ingest_path may index."),
    ] = None,
) -> None:
    """Serve the index to assistants over the Model Context Protocol (stdio or HTTP)."""
    state: CliState = ctx.obj

    def run() -> None:
        from app.mcp.server import serve

        rag = state.rag()
        secret = rag.settings.serve_token
        serve(rag, transport, host, port, secret, allow_ingest=allow_ingest, roots=roots or [])

    guarded(run, state.debug)


register_library(cli, guarded)
register_model_commands(cli, guarded)


def main() -> None:
    """Entry point of the ``rag`` console script."""
    cli(prog_name="rag")
