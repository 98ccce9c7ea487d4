"""Ollama through its real clients, against a stand-in server, behind a recording proxy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import app.models.embeddings
import app.models.ollama
from app import Rag
from app.errors import ProviderError
from app.models.ollama import probe, require_model
from tests.conftest import DATA_DIR
from tests.integration.conftest import COMMAND_TIMEOUT, rag_env, run_rag
from tests.support.forward_proxy import RecordingProxy
from tests.support.loopback import serve_on_loopback
from tests.support.ollama_server import (
    REPLY,
    Embedder,
    StandInOllama,
    _handler_for,
    minilm_embedder,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return minilm_embedder()


@pytest.fixture
def ollama(embedder: Embedder) -> Iterator[StandInOllama]:
    with StandInOllama(embedder) as server:
        yield server


@pytest.fixture
def proxy() -> Iterator[RecordingProxy]:
    with RecordingProxy() as recording:
        yield recording


@pytest.fixture
def proxied_env(monkeypatch: pytest.MonkeyPatch, proxy: RecordingProxy) -> RecordingProxy:
    """Proxy variables in upper and lower case, the Clash-style setup that breaks Ollama."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, proxy.url)
        monkeypatch.setenv(name.lower(), proxy.url)
    monkeypatch.setenv("NO_PROXY", "example.internal")
    monkeypatch.setenv("no_proxy", "example.internal")
    app.models.embeddings._cached_embeddings.cache_clear()
    return proxy


def test_cli_ingests_and_answers_through_ollama_while_the_proxy_sees_nothing(
    tmp_path: Path, ollama: StandInOllama, proxy: RecordingProxy
) -> None:
    env = rag_env(
        tmp_path / "index",
        RAG_LLM_PROVIDER="ollama",
        RAG_EMBED_PROVIDER="ollama",
        RAG_EMBED_MODEL="all-minilm",
        RAG_LLM_MODEL="llama3.2",
        OLLAMA_HOST=ollama.url.removeprefix("http://"),
        HTTP_PROXY=proxy.url,
        HTTPS_PROXY=proxy.url,
        ALL_PROXY="socks5h://" + proxy.url.removeprefix("http://"),
        http_proxy=proxy.url,
        NO_PROXY="intranet.example",
    )
    ingested = run_rag(["ingest", str(DATA_DIR)], env)
    assert ingested.stdout.startswith("Indexed 5 files")
    answered = run_rag(["ask", "How do I import a GGUF model into Ollama?", "--json"], env)
    data = json.loads(answered.stdout)
    assert data["answer"] == REPLY
    assert data["llm"] == "ollama:llama3.2"
    assert data["sources"][0]["source"] == "ollama-notes.md"
    assert proxy.requests == []
    assert ("POST", "/api/embed", "all-minilm") in ollama.requests
    assert ("POST", "/api/chat", "llama3.2") in ollama.requests

    streamed = run_rag(["ask", "How do I import a GGUF model into Ollama?"], env)
    assert streamed.stdout.startswith(REPLY)

    index_built_with_ollama = rag_env(tmp_path / "index")
    mismatch = run_rag(["ask", "GGUF", "--retrieve-only"], index_built_with_ollama, check=False)
    assert mismatch.returncode == 1
    assert "RAG_EMBED_PROVIDER=ollama RAG_EMBED_MODEL=all-minilm" in mismatch.stderr
    assert proxy.requests == []


def _small_index(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "gguf.md").write_text(
        "To import a GGUF file into Ollama, write a Modelfile and run ollama create.", "utf-8"
    )
    index_dir = tmp_path / "index"
    Rag.from_settings(index_dir=index_dir, llm_provider="none").ingest(docs)
    return index_dir


def test_without_no_proxy_handling_the_request_goes_to_the_proxy(
    tmp_path: Path,
    ollama: StandInOllama,
    proxied_env: RecordingProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    index_dir = _small_index(tmp_path)
    settings = {"index_dir": index_dir, "llm_provider": "ollama", "ollama_host": ollama.url}

    answer = Rag.from_settings(**settings).ask("How do I import a GGUF file?")
    assert answer.text == REPLY
    assert proxied_env.requests == []

    monkeypatch.setenv("NO_PROXY", "example.internal")
    monkeypatch.setenv("no_proxy", "example.internal")
    monkeypatch.setattr(app.models.ollama, "route_directly", lambda *args, **kwargs: False)
    with pytest.raises(ProviderError) as caught:
        Rag.from_settings(**settings).ask("How do I import a GGUF file?")
    assert f"a proxy answered instead of Ollama at {ollama.url} (HTTP 502" in str(caught.value)
    assert proxied_env.requests
    assert all(ollama.url.removeprefix("http://") in request for request in proxied_env.requests)


def test_not_running() -> None:
    with pytest.raises(ProviderError) as caught:
        require_model("http://127.0.0.1:9", "llama3.2", 2.0, "RAG_LLM_MODEL")
    assert str(caught.value) == (
        "Ollama is not running at http://127.0.0.1:9: start it with `ollama serve`, "
        "or set RAG_LLM_PROVIDER=llamacpp to answer with the embedded model"
    )


def test_model_not_pulled(ollama: StandInOllama) -> None:
    with pytest.raises(ProviderError) as caught:
        require_model(ollama.url, "qwen2.5:7b", 2.0, "RAG_LLM_MODEL")
    message = str(caught.value)
    assert message.startswith(f"Ollama at {ollama.url} has no model 'qwen2.5:7b'")
    assert "run `ollama pull qwen2.5:7b`" in message
    assert "llama3.2:latest" in message
    require_model(ollama.url, "llama3.2", 2.0, "RAG_LLM_MODEL")


def test_a_proxy_answering_instead_of_a_remote_ollama(proxied_env: RecordingProxy) -> None:
    """A remote host keeps the proxy; a 502 from it is named as the proxy's, not Ollama's."""
    status = probe("http://ollama.invalid:11434", 2.0)
    assert not status.reachable
    assert status.problem == (
        "a proxy answered instead of Ollama at http://ollama.invalid:11434 (HTTP 502 from "
        f"HTTP_PROXY={proxied_env.url}): add ollama.invalid to NO_PROXY, "
        "or set RAG_OLLAMA_BYPASS_PROXY=1"
    )
    assert proxied_env.requests == ["GET http://ollama.invalid:11434/api/tags"]


def test_timeout(embedder: Embedder) -> None:
    with StandInOllama(embedder, tags_delay=2.0) as slow:
        status = probe(slow.url, 0.3)
    assert status.problem is not None
    assert status.problem.startswith(f"Ollama at {slow.url} did not answer within 0.3 s")


def test_an_answer_that_takes_too_long_times_out(tmp_path: Path, embedder: Embedder) -> None:
    index_dir = _small_index(tmp_path)
    released = threading.Event()

    class SlowChat(_handler_for(StandInOllama(embedder))):  # type: ignore[misc]
        def do_POST(self) -> None:
            released.wait(timeout=10)  # answers nothing; the test releases it when done

    with serve_on_loopback(SlowChat) as url:
        rag = Rag.from_settings(
            index_dir=index_dir,
            llm_provider="ollama",
            ollama_host=url,
            ollama_request_timeout=1.0,
        )
        with pytest.raises(ProviderError) as caught:
            rag.ask("How do I import a GGUF file?")
        released.set()
    assert str(caught.value) == (
        f"Ollama at {url} did not answer in time; it may be loading a model: "
        "try again, or raise RAG_OLLAMA_REQUEST_TIMEOUT"
    )


def test_server_error_during_an_answer(tmp_path: Path, embedder: Embedder) -> None:
    index_dir = _small_index(tmp_path)
    with StandInOllama(embedder, chat_error=(500, "llama runner process has terminated")) as bad:
        rag = Rag.from_settings(index_dir=index_dir, llm_provider="ollama", ollama_host=bad.url)
        with pytest.raises(ProviderError) as caught:
            rag.ask("How do I import a GGUF file?")
    assert str(caught.value) == (
        f"Ollama at {bad.url} failed with HTTP 500: llama runner process has terminated"
    )


def test_cli_reports_ollama_failures_in_one_line(tmp_path: Path) -> None:
    index_dir = _small_index(tmp_path)
    env = rag_env(index_dir, RAG_LLM_PROVIDER="ollama", OLLAMA_HOST="127.0.0.1:9")
    result = run_rag(["ask", "anything"], env, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: Ollama is not running at http://127.0.0.1:9: start it with `ollama serve`, "
        "or set RAG_LLM_PROVIDER=llamacpp to answer with the embedded model"
    ]


def test_auto_uses_ollama_when_it_has_the_model(tmp_path: Path, ollama: StandInOllama) -> None:
    index_dir = _small_index(tmp_path)
    env = rag_env(index_dir, OLLAMA_HOST=ollama.url)
    result = run_rag(["ask", "How do I import a GGUF file?"], env)
    assert result.stdout.startswith(REPLY)
    assert f"answering with ollama:llama3.2 (Ollama at {ollama.url} has llama3.2)" in result.stderr


@pytest.mark.ollama
@pytest.mark.skipif(os.environ.get("RAG_TEST_OLLAMA") != "1", reason="set RAG_TEST_OLLAMA=1")
def test_real_ollama(tmp_path: Path) -> None:
    """Opt-in: a real Ollama at OLLAMA_HOST with RAG_LLM_MODEL and nomic-embed-text pulled."""
    env = {
        **os.environ,
        "RAG_INDEX_DIR": str(tmp_path / "index"),
        "RAG_LLM_PROVIDER": "ollama",
        "RAG_EMBED_PROVIDER": "ollama",
    }
    for args in (["ingest", str(DATA_DIR)], ["ask", "How do I import a GGUF model?"]):
        subprocess.run(
            [sys.executable, "-m", "app", *args], env=env, check=True, timeout=COMMAND_TIMEOUT
        )


def test_doctor_reports_ollama_and_its_models(tmp_path: Path, ollama: StandInOllama) -> None:
    index_dir = _small_index(tmp_path)
    env = rag_env(index_dir, OLLAMA_HOST=ollama.url, HTTPS_PROXY="http://bob:pw@127.0.0.1:9")
    result = run_rag(["doctor", "--json"], env)
    checks = {check["name"]: check for check in json.loads(result.stdout)["checks"]}
    assert checks["ollama"]["status"] == "ok"
    assert "0.12.0-stand-in" in checks["ollama"]["detail"]
    assert "llama3.2:latest" in checks["ollama"]["detail"]
    assert checks["answer model"]["detail"].startswith("ollama:llama3.2")
    assert checks["proxy HTTPS_PROXY"]["detail"] == "http://***:***@127.0.0.1:9"
    assert "pw@" not in result.stdout
    closed = run_rag(["doctor"], rag_env(index_dir, RAG_LLM_PROVIDER="ollama"), check=False)
    assert closed.returncode == 1
    assert "ollama" in closed.stdout and "fail" in closed.stdout
