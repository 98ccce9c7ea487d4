"""Clients that leave before, during or while waiting for a streamed answer give their place back.

``rag serve`` with room for one answer and none waiting (RAG_SERVE_QUEUE=0): a single place kept
by a client that left would refuse every later answer with 503. Then uvicorn in this process over
a model that takes seconds per answer: clients that leave while waiting in line free their place
at once, not when the answer ahead of them ends.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.outputs import ChatGenerationChunk

from app.api import Rag
from app.config.settings import load_settings
from app.serve.server import create_app, guarded
from app.serve.state import ServerState
from tests.integration.conftest import rag_env
from tests.support.rag_server import StreamedAnswer, free_port, rag_server

LEAVERS = 12
ASKED = "How do I import a GGUF model into Ollama?"
QUESTION = {"question": ASKED}
STREAMS = [
    ("/api/ask", QUESTION, {"Accept": "text/event-stream"}),
    (
        "/v1/chat/completions",
        {"model": "ragkit", "stream": True, "messages": [{"role": "user", "content": ASKED}]},
        {},
    ),
]


class ClientLeft(Exception):
    """Raised by a request body once it is sent: httpx drops the connection unread."""


@pytest.fixture(scope="module")
def server(sample_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("disconnect")
    env = rag_env(sample_index, RAG_SERVE_QUEUE="0", XDG_DATA_HOME=str(work / "data"))
    with rag_server(env, work / "server.log") as base:
        yield base


def answered(base: str, seconds: float = 30) -> httpx.Response:
    """A whole answer, retried while places are being given back (at most ``seconds``)."""
    deadline = time.monotonic() + seconds
    while True:
        response = httpx.post(f"{base}/api/ask", json=QUESTION, timeout=60)
        if response.status_code != 503 or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


@pytest.mark.parametrize(("path", "body", "headers"), STREAMS, ids=["api-ask", "openai"])
def test_clients_that_leave_before_the_answer_starts_give_their_place_back(
    server: str, path: str, body: dict[str, object], headers: dict[str, str]
) -> None:
    payload = json.dumps(body).encode()

    def sent_then_gone() -> Iterator[bytes]:
        yield payload
        raise ClientLeft

    for _ in range(LEAVERS):
        with httpx.Client(base_url=server, timeout=30) as client, pytest.raises(ClientLeft):
            client.post(
                path,
                content=sent_then_gone(),
                headers={
                    **headers,
                    "content-type": "application/json",
                    "content-length": str(len(payload)),
                },
            )
    response = answered(server)
    assert response.status_code == 200, response.text
    assert "ollama create" in response.json()["answer"]


@pytest.mark.parametrize(("path", "body", "headers"), STREAMS, ids=["api-ask", "openai"])
def test_clients_that_leave_during_the_stream_give_their_place_back(
    server: str, path: str, body: dict[str, object], headers: dict[str, str]
) -> None:
    for _ in range(LEAVERS):
        # The server may not have seen the last client leave yet: a 503 is retried.
        deadline = time.monotonic() + 30
        while True:
            with (
                httpx.Client(base_url=server, timeout=30) as client,
                client.stream("POST", path, json=body, headers=headers) as response,
            ):
                if response.status_code == 503 and time.monotonic() < deadline:
                    time.sleep(0.2)
                    continue
                assert response.status_code == 200
                next(response.iter_lines())  # the first line of the stream, then it leaves
                break
    response = answered(server)
    assert response.status_code == 200, response.text
    assert "ollama create" in response.json()["answer"]


class SlowChat(GenericFakeChatModel):
    """A chat model that writes a long reply, one word every 20 ms."""

    def _stream(self, *args: Any, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        for piece in super()._stream(*args, **kwargs):
            time.sleep(0.02)
            yield piece


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """uvicorn in this process over a ``Rag`` whose model takes seconds per answer; one answer
    may wait while one is written (RAG_SERVE_QUEUE=1)."""
    import uvicorn

    work = tmp_path_factory.mktemp("slow")
    docs = work / "docs"
    docs.mkdir()
    (docs / "kiln.md").write_text("# Kiln\n\nThe kiln fires at 1200 degrees.\n", encoding="utf-8")
    settings = load_settings({"index_dir": str(work / "index"), "serve_queue": 1}, environ={})
    reply = " ".join(["The kiln fires at 1200 degrees [1]."] * 60)
    rag = Rag(
        settings,
        embeddings=DeterministicFakeEmbedding(size=32),
        llm=SlowChat(messages=itertools.cycle([reply])),
    )
    rag.ingest(docs)
    state = ServerState.for_rag(rag, upload_dir=work / "uploads")
    port = free_port()
    app = guarded(create_app(state), state, "127.0.0.1", port, token="")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def test_clients_that_leave_while_waiting_in_line_free_their_place_at_once(
    slow_server: str,
) -> None:
    question = {"question": "How hot does the kiln fire?", "force": True}
    writer = StreamedAnswer(slow_server, question)
    writer.start()
    try:
        assert writer.first_event.wait(60), "no token streamed"
        for _ in range(3):  # each takes the one waiting place, then leaves
            with (
                httpx.Client(base_url=slow_server, timeout=30) as client,
                client.stream(
                    "POST", "/api/ask", json=question, headers={"Accept": "text/event-stream"}
                ) as waiting,
            ):
                assert waiting.status_code == 200, "the place of a client that left was kept"
            time.sleep(0.3)
        still_writing = "answer" not in writer.events
        with httpx.Client(base_url=slow_server, timeout=120) as client:
            served = client.post("/api/ask", json=question)
    finally:
        writer.join(120)
    assert still_writing, "the long answer ended too soon to test waiting clients"
    assert served.status_code == 200, served.text
    assert "1200" in served.json()["answer"]
    assert writer.events[-1] == "answer"
