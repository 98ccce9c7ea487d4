"""The MCP server: ragkit's tools on the official ``mcp`` SDK (FastMCP), stdio or HTTP.

Each tool returns the CLI's JSON as structured content (and as text); a ``RagError`` or any
other failure is a tool error carrying the same one line as the CLI, never a traceback, and
the server goes on serving. Logs go to stderr: under stdio, stdout is the protocol.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from io import TextIOWrapper
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import anyio
import anyio.to_thread
from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.server.stdio import stdio_server
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field, ValidationError

from app.errors import InputPathError, RagError, UsageError, one_line
from app.mcp.tools import RagTools

if TYPE_CHECKING:
    from app.api import Rag

SERVER_NAME = "ragkit"
INSTRUCTIONS = (
    "ragkit searches and answers from the user's own indexed documents, locally. Call "
    "search_documents to find passages (cite their source and page), answer_question for an "
    "answer checked against the sources, list_documents and get_passage to browse."
)
READ_ONLY = ToolAnnotations(readOnlyHint=True, openWorldHint=False)
log = logging.getLogger("ragkit.mcp")

Tool = Callable[..., dict[str, Any]]


def tool_result(work: Tool) -> Callable[..., Awaitable[CallToolResult]]:
    """Run a tool's work in a worker thread (searches go on while an answer is written).

    Its data comes back as structured content and JSON text; any failure as a tool error
    with the one-line message the CLI would print.
    """

    async def run(**arguments: Any) -> CallToolResult:
        try:
            data = await anyio.to_thread.run_sync(partial(work, **arguments))
        except Exception as error:
            if not isinstance(error, RagError):
                log.error("tool %s failed: %r", work.__name__, error)
            return CallToolResult(
                content=[TextContent(type="text", text=one_line(error))],
                isError=True,
            )
        text = json.dumps(data, ensure_ascii=False)
        return CallToolResult(content=[TextContent(type="text", text=text)], structuredContent=data)

    # The SDK builds the input schema from the signature: the work's own parameters.
    signature = inspect.signature(work, eval_str=True)
    setattr(run, "__signature__", signature.replace(return_annotation=CallToolResult))  # noqa: B010
    run.__name__ = work.__name__
    run.__doc__ = work.__doc__
    return run


class RagServer(FastMCP):
    """FastMCP with one-line argument errors and a stdout kept for the protocol alone."""

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> Any:
        """Run a tool; arguments that fail its schema are one line naming the fields."""
        try:
            return await super().call_tool(name, arguments)
        except ToolError as error:
            if isinstance(error.__cause__, ValidationError):
                raise ToolError(invalid_arguments(name, error.__cause__)) from None
            raise

    async def run_stdio_async(self) -> None:
        """Serve on stdin/stdout; anything else written to stdout goes to stderr instead.

        A library that prints, or a C extension writing to file descriptor 1, would
        otherwise corrupt the protocol stream.
        """
        protocol = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
        sys.stdout = sys.stderr
        output = anyio.wrap_file(TextIOWrapper(protocol, encoding="utf-8", write_through=True))
        lowlevel = self._mcp_server  # as FastMCP.run_stdio_async does, with our stdout
        async with stdio_server(stdout=output) as (read_stream, write_stream):
            await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())


def invalid_arguments(tool: str, error: ValidationError) -> str:
    """``invalid arguments for TOOL: field: what is wrong; ...`` on one line."""
    problems = "; ".join(
        f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in error.errors()
    )
    return f"invalid arguments for {tool}: {problems}"


def build_server(tools: RagTools, *, allow_ingest: bool = False, **settings: Any) -> RagServer:
    """A FastMCP server offering ``tools`` (``ingest_path`` only with ``allow_ingest``)."""
    server = RagServer(SERVER_NAME, instructions=INSTRUCTIONS, log_level="WARNING", **settings)

    def search_documents(
        query: Annotated[str, Field(description="What to look for in the documents.")],
        k: Annotated[int, Field(description="How many passages to return (at least 1).")] = 5,
        source: Annotated[
            str | None,
            Field(description="Only search files whose source matches this glob, e.g. '*.pdf'."),
        ] = None,
        mode: Annotated[
            Literal["hybrid", "dense", "bm25"] | None,
            Field(description="hybrid (default): meaning and words; dense: meaning; bm25: words."),
        ] = None,
    ) -> dict[str, Any]:
        return tools.search_documents(query, k, source, mode)

    def answer_question(
        question: Annotated[str, Field(description="A question about the indexed documents.")],
    ) -> dict[str, Any]:
        return tools.answer_question(question)

    def get_passage(
        chunk_id: Annotated[
            str, Field(description="A chunk id, as search_documents returns in `id`.")
        ],
    ) -> dict[str, Any]:
        return tools.get_passage(chunk_id)

    def ingest_path(
        path: Annotated[
            str,
            Field(description="A file or folder inside the server's allowed folders to index."),
        ],
    ) -> dict[str, Any]:
        return tools.ingest_path(path)

    offered: list[tuple[Tool, str, ToolAnnotations]] = [
        (
            search_documents,
            "Search the indexed documents. Returns passages best first, each with source, "
            "page, chunk id, score and text. Use it before answering from the documents.",
            READ_ONLY,
        ),
        (
            answer_question,
            "Answer a question from the indexed documents: the answer text, the sources it "
            "used, evidence sentences and which sentences the sources support.",
            READ_ONLY,
        ),
        (
            tools.list_documents,
            "List the files in the index: source, path, chunks, size and content hash.",
            READ_ONLY,
        ),
        (
            get_passage,
            "Read one indexed passage by its chunk id: source, page, score, text.",
            READ_ONLY,
        ),
        (
            tools.index_status,
            "Describe the index: files, chunks, embedding model, size and when it was built.",
            READ_ONLY,
        ),
    ]
    if allow_ingest:
        folders = ", ".join(str(root) for root in tools.roots)
        offered.append(
            (
                ingest_path,
                f"Index a file or folder (inside {folders}) so it can be searched; unchanged "
                "files are skipped. Returns what was added, updated and skipped.",
                ToolAnnotations(destructiveHint=False, idempotentHint=True, openWorldHint=False),
            )
        )
    for work, description, hints in offered:
        server.add_tool(
            tool_result(work),
            name=work.__name__,
            description=description,
            annotations=hints,
            structured_output=False,
        )
    return server


TRANSPORTS = ("stdio", "http")
HTTP_PATH = "/mcp"
DEFAULT_PORT = 8001
"""``rag serve`` takes 8000."""


def serve(
    rag: Rag,
    transport: str = "stdio",
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    token: str = "",
    *,
    allow_ingest: bool = False,
    roots: Sequence[Path] = (),
) -> None:
    """Run ``rag mcp`` over stdio (until the client closes it) or streamable HTTP.

    Over HTTP the rules of ``rag serve`` apply: loopback unless a token is set, the Host
    header must name this server, other sites may not post, and a set token is required.
    """
    if transport not in TRANSPORTS:
        raise UsageError(f"--transport must be stdio or http; got {transport!r}")
    if allow_ingest and not roots:
        raise UsageError("--allow-ingest needs at least one --root FOLDER it may index")
    for root in roots:
        if not root.is_dir():
            raise InputPathError(f"--root {root} is not a folder")
    tools = RagTools(rag, roots if allow_ingest else ())
    if transport == "stdio":
        anyio.run(build_server(tools, allow_ingest=allow_ingest).run_stdio_async)
        return
    from app.serve.security import Guard, GuardMiddleware, check_bind

    check_bind(host, token)
    import uvicorn
    from mcp.server.transport_security import TransportSecuritySettings

    # One set of rules: the Guard's, not also the SDK's own Host check.
    unchecked = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    server = build_server(
        tools,
        allow_ingest=allow_ingest,
        host=host,
        port=port,
        streamable_http_path=HTTP_PATH,
        transport_security=unchecked,
    )
    guarded = GuardMiddleware(server.streamable_http_app(), Guard(host, port, token))
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}{HTTP_PATH}"
    print(f"ragkit: MCP over streamable HTTP at {url}", file=sys.stderr, flush=True)
    uvicorn.run(
        guarded, host=host, port=port, log_level="warning", access_log=False, server_header=False
    )
