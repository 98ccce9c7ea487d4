"""The OpenAI-compatible endpoint, used by the official ``openai`` client and ``ChatOpenAI``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_openai import ChatOpenAI
from openai import OpenAI

from tests.integration.conftest import rag_env
from tests.support.rag_server import rag_server

QUESTION = "How do I import a GGUF model into Ollama?"


@pytest.fixture(scope="module")
def base_url(sample_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("openai")
    env = rag_env(sample_index, XDG_DATA_HOME=str(work / "data"))
    with rag_server(env, work / "server.log") as base:
        yield f"{base}/v1"


@pytest.fixture(scope="module")
def client(base_url: str) -> OpenAI:
    return OpenAI(base_url=base_url, api_key="unused", timeout=120, max_retries=0)


def test_the_model_list_names_ragkit(client: OpenAI) -> None:
    assert [model.id for model in client.models.list()] == ["ragkit"]


def test_a_completion_carries_the_answer_its_numbered_sources_and_structured_ones(
    client: OpenAI,
) -> None:
    completion = client.chat.completions.create(
        model="ragkit", messages=[{"role": "user", "content": QUESTION}]
    )
    text = completion.choices[0].message.content or ""
    assert completion.choices[0].finish_reason == "stop"
    assert "ollama create" in text
    assert "\n\nSources:\n[1] ollama-notes.md" in text
    extra = completion.model_extra or {}
    assert extra["sources"][0]["source"] == "ollama-notes.md"
    assert extra["ragkit"]["answer_kind"] == "quoted" and extra["ragkit"]["evidence"]


def test_a_streamed_completion_ends_with_the_sources_and_done(client: OpenAI) -> None:
    stream = client.chat.completions.create(
        model="ragkit", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    chunks = list(stream)  # the client stops at data: [DONE]
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert (chunks[-1].model_extra or {})["sources"][0]["source"] == "ollama-notes.md"
    assert "ollama create" in text and "Sources:\n[1] ollama-notes.md" in text


def test_earlier_messages_are_the_history_of_a_follow_up(client: OpenAI) -> None:
    completion = client.chat.completions.create(
        model="ragkit",
        messages=[
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": QUESTION},
            {"role": "assistant", "content": "Write a Modelfile and run ollama create."},
            {"role": "user", "content": [{"type": "text", "text": "How do I run it then?"}]},
        ],
    )
    ragkit = (completion.model_extra or {})["ragkit"]
    assert ragkit["question"] == "How do I run it then?"
    assert ragkit["sources"][0]["source"] == "ollama-notes.md"


def test_a_request_without_a_user_message_is_a_bad_request(base_url: str) -> None:
    import httpx

    response = httpx.post(
        f"{base_url}/chat/completions",
        json={"model": "ragkit", "messages": [{"role": "system", "content": "hi"}]},
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "UsageError"


def test_langchain_chat_openai_gets_the_answer_whole_and_streamed(base_url: str) -> None:
    chat = ChatOpenAI(base_url=base_url, api_key="unused", model="ragkit", timeout=120)
    reply = chat.invoke([HumanMessage(QUESTION)])
    assert isinstance(reply, AIMessage)
    assert "ollama create" in str(reply.content) and "[1] ollama-notes.md" in str(reply.content)
    pieces = [str(chunk.content) for chunk in chat.stream([HumanMessage(QUESTION)])]
    assert len(pieces) >= 2
    assert "".join(pieces) == reply.content
