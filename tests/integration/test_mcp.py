"""``rag mcp`` with real clients: the SDK's ClientSession and langchain-mcp-adapters over stdio.

Each test spawns ``python -m app mcp`` on an index of data/ (the real MiniLM) and talks MCP
to it; the client closes the process when the session ends.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import CallToolResult, TextContent

from app import Rag, Source
from tests.conftest import DATA_DIR, REPO_ROOT
from tests.integration.conftest import rag_env, run_json, run_rag

pytestmark = pytest.mark.integration

SESSION_SECONDS = 240
QUESTION = "What port does Ollama listen on?"
READ_TOOLS = {
    "search_documents",
    "answer_question",
    "list_documents",
    "get_passage",
    "index_status",
}
SOURCE_FIELDS = set(Source("", None, 0, 0.0, "").to_dict())


def server_parameters(index_dir: Path, *args: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "app", "mcp", *args],
        env=rag_env(index_dir),
        cwd=str(REPO_ROOT),
    )


@asynccontextmanager
async def mcp_session(index_dir: Path, *args: str) -> AsyncIterator[ClientSession]:
    """A client session with ``rag mcp ARGS`` run as a subprocess, initialised."""
    async with (
        stdio_client(server_parameters(index_dir, *args)) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def data_of(result: CallToolResult) -> Any:
    assert not result.isError, result.content
    assert isinstance(result.content[0], TextContent)
    data = json.loads(result.content[0].text)
    assert result.structuredContent == data
    return data


def error_of(result: CallToolResult) -> str:
    assert result.isError
    assert isinstance(result.content[0], TextContent)
    message = result.content[0].text
    assert "\n" not in message and "Traceback" not in message
    return message


async def test_the_tools_are_listed_with_schemas_and_each_one_works(sample_index: Path) -> None:
    with anyio.fail_after(SESSION_SECONDS):
        async with mcp_session(sample_index) as session:
            listed = {tool.name: tool for tool in (await session.list_tools()).tools}
            assert set(listed) == READ_TOOLS  # no ingest_path without --allow-ingest
            assert all(
                tool.description and tool.inputSchema["type"] == "object"
                for tool in listed.values()
            )
            search_schema = listed["search_documents"].inputSchema
            assert search_schema["required"] == ["query"]
            assert set(search_schema["properties"]) == {"query", "k", "source", "mode"}

            found = data_of(
                await session.call_tool("search_documents", {"query": QUESTION, "k": 3})
            )
            passages = found["passages"]
            assert len(passages) == 3
            assert all(set(passage) == SOURCE_FIELDS for passage in passages)
            assert passages[0]["source"] == "ollama-notes.md"
            assert "11434" in " ".join(passage["text"] for passage in passages)
            assert all(-1.0 <= passage["score"] <= 1.0 for passage in passages)  # cosines

            pdf_only = data_of(
                await session.call_tool(
                    "search_documents", {"query": QUESTION, "source": "*.pdf", "mode": "bm25"}
                )
            )
            assert {p["source"] for p in pdf_only["passages"]} == {"field-guide.pdf"}
            assert all(p["page"] is not None for p in pdf_only["passages"])

            passage = data_of(
                await session.call_tool("get_passage", {"chunk_id": passages[0]["id"]})
            )
            assert (passage["id"], passage["text"]) == (passages[0]["id"], passages[0]["text"])

            documents = data_of(await session.call_tool("list_documents", {}))["documents"]
            expected = [
                entry.to_dict() for entry in Rag.from_settings(index_dir=sample_index).documents()
            ]
            assert documents == expected
            assert {entry["source"] for entry in documents} == {p.name for p in DATA_DIR.iterdir()}

            status = data_of(await session.call_tool("index_status", {}))
            assert status == run_json(["status", "--json"], rag_env(sample_index))

            answer = data_of(await session.call_tool("answer_question", {"question": QUESTION}))
            cli = run_json(["ask", QUESTION, "--json"], rag_env(sample_index))
            assert set(answer) == set(cli)
            assert answer["answer"] == cli["answer"]
            assert "11434" in answer["answer"]
            assert answer["sources"] and answer["evidence"]
            assert answer["support"] == cli["support"]


async def test_bad_arguments_are_tool_errors_and_the_server_keeps_serving(
    sample_index: Path,
) -> None:
    with anyio.fail_after(SESSION_SECONDS):
        async with mcp_session(sample_index) as session:
            zero = await session.call_tool("search_documents", {"query": QUESTION, "k": 0})
            assert error_of(zero) == "k must be a whole number of at least 1; got 0"
            missing = await session.call_tool("get_passage", {"chunk_id": "no-such-chunk"})
            assert error_of(missing).startswith("no chunk 'no-such-chunk' in the index at ")
            mode = await session.call_tool("search_documents", {"query": QUESTION, "mode": "fuzzy"})
            assert "mode" in error_of(mode)
            empty = await session.call_tool("answer_question", {"question": "  "})
            assert error_of(empty) == "the question is empty"
            unknown = await session.call_tool("ingest_path", {"path": str(DATA_DIR)})
            assert "ingest_path" in error_of(unknown)
            after = data_of(await session.call_tool("search_documents", {"query": QUESTION}))
            assert len(after["passages"]) == 5


async def test_ingest_is_confined_to_the_root_folders(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    (root / "notes").mkdir(parents=True)
    (root / "notes" / "printer.md").write_text("The office printer is on the third floor.\n")
    outside = tmp_path / "secret.txt"
    outside.write_text("Not for the index.\n")
    index_dir = tmp_path / "index"
    with anyio.fail_after(SESSION_SECONDS):
        async with mcp_session(index_dir, "--allow-ingest", "--root", str(root)) as session:
            listed = {tool.name: tool for tool in (await session.list_tools()).tools}
            assert set(listed) == READ_TOOLS | {"ingest_path"}
            assert str(root) in str(listed["ingest_path"].description)
            for path in (str(outside), "../secret.txt", str(root / "notes" / ".." / "..")):
                refused = await session.call_tool("ingest_path", {"path": path})
                assert "is outside the folders this server may index" in error_of(refused)
            report = data_of(await session.call_tool("ingest_path", {"path": "notes"}))
            assert (report["files_added"], report["total_files"]) == (1, 1)
            found = data_of(
                await session.call_tool("search_documents", {"query": "Where is the printer?"})
            )
            assert found["passages"][0]["source"] == "printer.md"
    assert [entry.source for entry in Rag.from_settings(index_dir=index_dir).documents()] == [
        "printer.md"
    ]


def test_allow_ingest_without_a_root_is_a_usage_error(tmp_path: Path) -> None:
    result = run_rag(["mcp", "--allow-ingest"], rag_env(tmp_path / "index"), check=False)
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "error: --allow-ingest needs at least one --root FOLDER it may index"
    )


async def test_langchain_mcp_adapters_load_the_tools_and_search(sample_index: Path) -> None:
    from langchain_mcp_adapters.client import MultiServerMCPClient

    parameters = server_parameters(sample_index)
    client = MultiServerMCPClient(
        {
            "ragkit": {
                "transport": "stdio",
                "command": parameters.command,
                "args": parameters.args,
                "env": parameters.env,
                "cwd": parameters.cwd,
            }
        }
    )
    with anyio.fail_after(SESSION_SECONDS):
        tools = {tool.name: tool for tool in await client.get_tools()}
        assert set(tools) == READ_TOOLS
        assert set(tools["search_documents"].args) == {"query", "k", "source", "mode"}
        content = await tools["search_documents"].ainvoke({"query": QUESTION, "k": 2})
    text = content if isinstance(content, str) else " ".join(block["text"] for block in content)
    passages = json.loads(text)["passages"]
    assert [passage["source"] for passage in passages][:1] == ["ollama-notes.md"]
    assert len(passages) == 2
