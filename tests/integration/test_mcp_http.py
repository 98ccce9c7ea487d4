"""``rag mcp --transport http``: the SDK's client over streamable HTTP on 127.0.0.1.

The server runs as a subprocess (stopped by its PID); the rules of ``rag serve`` apply:
the Host header must name the server, other sites may not post, a set token is required.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.types import TextContent

from tests.conftest import REPO_ROOT
from tests.integration.conftest import rag_env, run_rag
from tests.integration.test_mcp import QUESTION, READ_TOOLS

pytestmark = pytest.mark.integration

START_SECONDS = 60
TOKEN = "test-token-123"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "0"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def http_server(sample_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``rag mcp --transport http`` with a token, on a free loopback port: its URL."""
    port = free_port()
    log = (tmp_path_factory.mktemp("mcp-http") / "stderr.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "mcp", "--transport", "http", "--port", str(port)],
        env=rag_env(sample_index, RAG_SERVE_TOKEN=TOKEN),
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, "rag mcp --transport http exited"
                assert time.monotonic() < deadline, "rag mcp did not start listening"
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


async def test_the_sdk_client_lists_and_calls_tools_over_http(http_server: str) -> None:
    client = httpx.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120)
    with anyio.fail_after(180):
        async with (
            client,
            streamable_http_client(http_server, http_client=client) as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            tools = {tool.name for tool in (await session.list_tools()).tools}
            assert tools == READ_TOOLS
            found = await session.call_tool("search_documents", {"query": QUESTION, "k": 2})
            assert not found.isError and found.structuredContent is not None
            assert found.structuredContent["passages"][0]["source"] == "ollama-notes.md"
            zero = await session.call_tool("search_documents", {"query": QUESTION, "k": 0})
            assert zero.isError and isinstance(zero.content[0], TextContent)
            assert zero.content[0].text == "k must be a whole number of at least 1; got 0"
            status = await session.call_tool("index_status", {})
            assert status.structuredContent is not None
            assert status.structuredContent["files"] == 5


def test_requests_breaking_the_serve_rules_are_refused(http_server: str) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}", **MCP_HEADERS}
    with httpx.Client(timeout=30) as client:
        missing = client.post(http_server, json=INITIALIZE, headers=MCP_HEADERS)
        assert missing.status_code == 401
        assert missing.json()["error"]["type"] == "TokenError"
        wrong = client.post(
            http_server, json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": "Bearer no"}
        )
        assert (wrong.status_code, wrong.json()["error"]["message"]) == (401, "wrong token")
        rebound = client.post(
            http_server, json=INITIALIZE, headers={**auth, "Host": "evil.example:80"}
        )
        assert rebound.status_code == 403
        assert "is not this server's address" in rebound.json()["error"]["message"]
        cross_site = client.post(
            http_server, json=INITIALIZE, headers={**auth, "Origin": "https://evil.example"}
        )
        assert cross_site.status_code == 403
        assert "another site" in cross_site.json()["error"]["message"]
        allowed = client.post(http_server, json=INITIALIZE, headers=auth)
        assert allowed.status_code == 200
        body = allowed.text
        payload = body if body.startswith("{") else body.split("data: ", 1)[1].splitlines()[0]
        assert json.loads(payload)["result"]["serverInfo"]["name"] == "ragkit"


def test_another_address_than_loopback_needs_a_token(tmp_path: Path) -> None:
    result = run_rag(
        ["mcp", "--transport", "http", "--host", "0.0.0.0"],
        rag_env(tmp_path / "index"),
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: refusing to listen on 0.0.0.0 without a token: set RAG_SERVE_TOKEN, "
        "or bind 127.0.0.1 (the default)"
    )
