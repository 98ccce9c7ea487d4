"""The stand-in Ollama speaks each endpoint the way the official ``ollama`` client expects."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import ollama
import pytest

from tests.support.ollama_server import REPLY, StandInOllama, minilm_embedder

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server() -> Iterator[StandInOllama]:
    with StandInOllama(minilm_embedder()) as running:
        yield running


@pytest.fixture
def client(server: StandInOllama) -> ollama.Client:
    # trust_env=False: these tests are about the server, not about the proxy handling.
    return ollama.Client(host=server.url, timeout=10, trust_env=False)


def test_version_tags_and_show(server: StandInOllama, client: ollama.Client) -> None:
    version = httpx.get(f"{server.url}/api/version", timeout=5, trust_env=False)
    assert version.json() == {"version": "0.12.0-stand-in"}
    assert client.list().models[0].model == "llama3.2:latest"
    assert client.show("llama3.2").details is not None


def test_chat_and_generate_streamed_and_not(client: ollama.Client) -> None:
    messages = [{"role": "user", "content": "hi"}]
    whole = client.chat(model="llama3.2", messages=messages, stream=False)
    assert whole.message.content == REPLY and whole.done
    parts = list(client.chat(model="llama3.2", messages=messages, stream=True))
    assert len(parts) > 2 and "".join(part.message.content or "" for part in parts) == REPLY
    assert client.generate(model="llama3.2", prompt="hi", stream=False).response == REPLY
    streamed = client.generate(model="llama3.2", prompt="hi", stream=True)
    assert "".join(part.response for part in streamed) == REPLY


def test_embed_and_the_older_embeddings_endpoint_agree(client: ollama.Client) -> None:
    batch = client.embed(model="all-minilm", input=["GGUF import", "proxy settings"]).embeddings
    single = client.embeddings(model="all-minilm", prompt="GGUF import").embedding
    assert len(batch) == 2 and len(batch[0]) == 384
    assert single == pytest.approx(batch[0], abs=1e-5)


def test_an_unknown_model_is_a_404_like_ollama(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as caught:
        client.chat(model="qwen2.5:7b", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 404
    assert "not found" in caught.value.error
