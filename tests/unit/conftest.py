"""Unit tests are offline: sockets are blocked and models are langchain_core fakes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models import FakeListChatModel
from langchain_core.messages import BaseMessage

import app.api
from app.providers import LlmChoice

FAKE_DIMENSION = 32


@pytest.fixture(autouse=True)
def _offline(socket_disabled: None) -> None:
    """Any network use in a unit test fails it."""


class CountingEmbedding(DeterministicFakeEmbedding):
    """A deterministic fake that records every text it is asked to embed."""

    texts: list[str] = []  # noqa: RUF012 - a pydantic field, copied per instance

    @property
    def embedded(self) -> int:
        """How many texts were embedded."""
        return len(self.texts)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.texts.extend(texts)
        return super().embed_documents(texts)


@pytest.fixture
def embeddings() -> CountingEmbedding:
    """A fresh counting fake of 16 dimensions for each test."""
    return CountingEmbedding(size=16, texts=[])


class RecordingChatModel(FakeListChatModel):
    """A fake chat model that keeps the messages of every call, streamed or not."""

    calls: list[list[BaseMessage]] = []  # noqa: RUF012 - a pydantic field, copied per instance

    def record(self, messages: list[BaseMessage]) -> None:
        self.calls.append(list(messages))

    def _call(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> str:
        self.record(messages)
        return super()._call(messages, *args, **kwargs)

    def _stream(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Iterator[Any]:
        self.record(messages)
        yield from super()._stream(messages, *args, **kwargs)


@pytest.fixture
def fake_embeddings() -> DeterministicFakeEmbedding:
    return DeterministicFakeEmbedding(size=FAKE_DIMENSION)


@pytest.fixture
def recording_llm() -> RecordingChatModel:
    return RecordingChatModel(responses=["Ollama listens on port 11434 [1]."], calls=[])


@pytest.fixture
def fake_models(
    monkeypatch: pytest.MonkeyPatch,
    fake_embeddings: DeterministicFakeEmbedding,
    recording_llm: RecordingChatModel,
) -> RecordingChatModel:
    """Make ``Rag`` (and so the CLI) use fake embeddings and a recording fake chat model."""
    monkeypatch.setattr(app.api, "build_embeddings", lambda settings: fake_embeddings)

    def choose(settings: Any) -> LlmChoice:
        if settings.llm_provider == "none":
            return LlmChoice("none", "", "retrieval only")
        return LlmChoice("fake", "recording", "unit test")

    monkeypatch.setattr(app.api, "choose_llm", choose)
    monkeypatch.setattr(
        app.api,
        "build_llm",
        lambda settings, choice, limits=None: None if choice.provider == "none" else recording_llm,
    )
    return recording_llm


def write_files(root: Path, files: dict[str, str | bytes]) -> Path:
    """Create files under ``root`` from a {relative path: content} mapping."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


SAMPLE_FILES: dict[str, str | bytes] = {
    "ollama.md": "# Ollama\n\nOllama listens on 127.0.0.1:11434 by default.\n\n"
    "Start the service with `ollama serve`.\n",
    "backup.txt": "The backup runs nightly at 02:30 and copies the home folder to the NAS.\n",
    "notes/page.html": "<html><head><title>Proxy notes</title><script>var x = 1;</script>"
    "</head><body><p>Set NO_PROXY=localhost,127.0.0.1 to reach Ollama directly.</p></body></html>",
    ".hidden/secret.txt": "never indexed",
    "image.png": b"\x89PNG\r\n\x1a\n\x00\x00",
}


def texts_of(items: Sequence[Any]) -> list[str]:
    return [item.text for item in items]
