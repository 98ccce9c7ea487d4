"""The MCP tools over fakes, through the SDK's in-memory client session; paths kept in roots."""

from collections.abc import Iterator
from pathlib import Path

import mcp
import pytest
from mcp.shared.memory import create_connected_server_and_client_session
from mcp.types import TextContent
from pytest_socket import disable_socket, enable_socket

from app import Rag
from app.errors import ForbiddenRequestError, InputPathError, UsageError
from app.mcp.server import build_server, serve
from app.mcp.tools import RagTools
from tests.unit.conftest import BACKUP_REPLY, SAMPLE_FILES, ScriptedChatModel, write_files

BACKUP_TEXT = str(SAMPLE_FILES["backup.txt"]).strip()


@pytest.fixture(autouse=True)
def _offline() -> Iterator[None]:
    """The event loop needs its Unix socket pair; network sockets stay blocked."""
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()


@pytest.fixture
def rag(tmp_path: Path, fake_models: ScriptedChatModel) -> Rag:
    instance = Rag.from_settings(min_score=-1.0, chunk_context="none")
    instance.ingest(write_files(tmp_path / "docs", SAMPLE_FILES))
    return instance


def test_import_mcp_is_the_sdk_not_this_package() -> None:
    assert "site-packages" in str(mcp.__file__)
    assert hasattr(mcp, "ClientSession")


def test_ingest_is_refused_outside_the_roots_and_off_without_them(rag: Rag, tmp_path: Path) -> None:
    root = write_files(tmp_path / "root", {"a/b.md": "The printer is on the third floor."})
    (tmp_path / "outside.txt").write_text("x")
    (root / "escape").symlink_to(tmp_path)
    tools = RagTools(rag, [root])
    for path in ("../outside.txt", str(tmp_path / "outside.txt"), "escape/outside.txt", "/"):
        with pytest.raises(ForbiddenRequestError, match="outside the folders"):
            tools.ingest_path(path)
    with pytest.raises(InputPathError, match="does not exist"):
        tools.ingest_path("a/missing.md")
    assert tools.ingest_path("a")["files_added"] == 1
    with pytest.raises(UsageError, match="ingesting is off"):
        RagTools(rag).ingest_path("a")


async def test_tools_over_an_in_memory_session(rag: Rag) -> None:
    server = build_server(RagTools(rag))
    async with create_connected_server_and_client_session(server) as session:
        found = await session.call_tool("search_documents", {"query": BACKUP_TEXT, "k": 1})
        assert found.structuredContent is not None
        passage = found.structuredContent["passages"][0]
        assert passage["source"] == "backup.txt"
        answer = await session.call_tool("answer_question", {"question": "When is the backup?"})
        assert answer.structuredContent is not None
        assert answer.structuredContent["answer"] == BACKUP_REPLY
        bad = await session.call_tool("search_documents", {"query": "x", "k": "many"})
        assert bad.isError
        assert isinstance(bad.content[0], TextContent)
        assert bad.content[0].text.startswith("invalid arguments for search_documents: k: ")
        assert "\n" not in bad.content[0].text
        again = await session.call_tool("get_passage", {"chunk_id": passage["id"]})
        assert again.structuredContent == {**passage, "score": 0.0}


def test_serve_refuses_a_bad_transport_or_ingest_without_roots(rag: Rag, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--transport must be stdio or http; got 'sse'"):
        serve(rag, "sse")
    with pytest.raises(UsageError, match="--allow-ingest needs at least one --root"):
        serve(rag, allow_ingest=True)
    with pytest.raises(InputPathError, match="is not a folder"):
        serve(rag, allow_ingest=True, roots=[tmp_path / "missing"])


def test_retrieval_only_answers_none_as_the_cli_does(tmp_path: Path, fake_models: object) -> None:
    rag = Rag.from_settings(llm_provider="none", min_score=-1.0)
    rag.ingest(write_files(tmp_path / "docs", SAMPLE_FILES))
    data = RagTools(rag).answer_question("When does the backup run?")
    assert data["answer"] is None
    assert data["sources"]
