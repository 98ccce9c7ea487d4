"""Unit tests are offline: sockets are blocked and models are langchain_core fakes.

The fakes, by what they are:

* ``counting_embeddings``: a hash-based fake of 16 dimensions that records every text it
  is asked to embed (for tests of what ingest does or does not embed);
* ``hash_embeddings``: the plain hash-based fake of langchain_core, 32 dimensions (equal
  texts get equal vectors; similar texts do not get similar ones);
* ``ScriptedChatModel``: a chat model that answers each question with the reply scripted
  for it and records every call; ``fake_models`` makes ``Rag`` (and so the CLI) use the
  hash embeddings and a scripted model with ``SAMPLE_REPLIES``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

import app.api
from app.models.llms import LlmChoice
from chains.conversation import REWRITE_PROMPT

COUNTING_DIMENSION = 16
HASH_DIMENSION = 32


@pytest.fixture(autouse=True)
def _offline(socket_disabled: None) -> None:
    """Any network use in a unit test fails it."""


@pytest.fixture(autouse=True)
def _no_ocr(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests never run OCR, which is slow; tests/integration/test_ocr.py does."""
    monkeypatch.setenv("RAG_OCR", "off")


class CountingEmbeddings(DeterministicFakeEmbedding):
    """The hash-based fake, recording every text it is asked to embed as a document."""

    texts: list[str] = Field(default_factory=list)

    @property
    def embedded(self) -> int:
        """How many texts were embedded."""
        return len(self.texts)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.texts.extend(texts)
        return super().embed_documents(texts)


@pytest.fixture
def counting_embeddings() -> CountingEmbeddings:
    """A fresh counting fake of 16 dimensions for each test."""
    return CountingEmbeddings(size=COUNTING_DIMENSION)


@pytest.fixture
def hash_embeddings() -> DeterministicFakeEmbedding:
    """The hash-based fake of 32 dimensions."""
    return DeterministicFakeEmbedding(size=HASH_DIMENSION)


class UnscriptedQuestionError(AssertionError):
    """A scripted chat model was asked a question its script has no reply for."""


def question_of(messages: Sequence[BaseMessage]) -> str:
    """The question a chat call asks: the last human message, without the sources around it.

    Answer prompts put the question after ``Question:`` below the sources (the small-model
    prompt adds a ``Short answer:`` line); a rewrite call's last message is the question.
    """
    last = next((m for m in reversed(messages) if m.type == "human"), None)
    if last is None:
        raise UnscriptedQuestionError("the call has no human message")
    text = last.text
    if "Question: " in text:
        text = text.rpartition("Question: ")[2].split("\nShort answer:", 1)[0]
    return text.strip()


REWRITE_INSTRUCTION = REWRITE_PROMPT.format_messages(history=[], question="")[0].text


def is_rewrite(messages: Sequence[BaseMessage]) -> bool:
    """Whether a call asks to rewrite a follow-up into a standalone question."""
    return (
        bool(messages)
        and messages[0].type == "system"
        and (messages[0].text == REWRITE_INSTRUCTION)
    )


class ScriptedChatModel(BaseChatModel):
    """A fake chat model that replies per question and keeps the messages of every call.

    ``replies`` maps a keyword to the reply for a question with a word that starts with it
    (ignoring case; the first keyword found, in the order given, wins: ``backup`` answers
    "When do backups run?" but ``port`` does not answer "How do I import a model?").
    ``rewrites`` does the same for the calls of a chat that rewrite a follow-up into a
    standalone question. A question without a scripted reply raises
    ``UnscriptedQuestionError``, so no test passes on a reply meant for another question.
    Streaming yields the reply word by word.
    """

    replies: dict[str, str]
    rewrites: dict[str, str] = Field(default_factory=dict)
    calls: list[list[BaseMessage]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted-chat-model"

    @property
    def questions(self) -> list[str]:
        """The question of every call so far, in order."""
        return [question_of(messages) for messages in self.calls]

    def record(self, messages: list[BaseMessage]) -> None:
        """Keep the messages of a call (a test subclass may fail here, like a dead server)."""
        self.calls.append(list(messages))

    def reply_to(self, messages: Sequence[BaseMessage]) -> str:
        """The scripted reply (or rewrite) for the question of ``messages``."""
        question = question_of(messages)
        kind, script = (
            ("rewrite", self.rewrites) if is_rewrite(messages) else ("reply", self.replies)
        )
        for keyword, reply in script.items():
            if re.search(rf"(?<!\w){re.escape(keyword)}", question, re.IGNORECASE):
                return reply
        raise UnscriptedQuestionError(
            f"no scripted {kind} for {question!r}; the script knows {list(script)}"
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.record(messages)
        message = AIMessage(content=self.reply_to(messages))
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        self.record(messages)
        for piece in re.findall(r"\s*\S+", self.reply_to(messages)):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager is not None:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk


SAMPLE_FILES: dict[str, str | bytes] = {
    "ollama.md": "# Ollama\n\nOllama listens on 127.0.0.1:11434 by default.\n\n"
    "Start the service with `ollama serve`.\n",
    "backup.txt": "The backup runs nightly at 02:30 and copies the home folder to the NAS.\n",
    "notes/page.html": "<html><head><title>Proxy notes</title><script>var x = 1;</script>"
    "</head><body><p>Set NO_PROXY=localhost,127.0.0.1 to reach Ollama directly.</p></body></html>",
    ".hidden/secret.txt": "never indexed",
    "image.png": b"\x89PNG\r\n\x1a\n\x00\x00",
}

BACKUP_REPLY = "The backup runs nightly at 02:30 [1]."
PORT_REPLY = "Ollama listens on port 11434 [1]."
PROXY_REPLY = "Set NO_PROXY=localhost,127.0.0.1 to reach Ollama directly [1]."
SAMPLE_REPLIES: dict[str, str] = {
    "backup": BACKUP_REPLY,
    "proxy": PROXY_REPLY,
    "port": PORT_REPLY,
    "ollama listen": PORT_REPLY,
}
"""Replies to questions about SAMPLE_FILES, by a keyword of the question."""


@pytest.fixture
def scripted_llm() -> ScriptedChatModel:
    """A scripted chat model that answers questions about SAMPLE_FILES."""
    return ScriptedChatModel(replies=dict(SAMPLE_REPLIES))


@pytest.fixture
def fake_models(
    monkeypatch: pytest.MonkeyPatch,
    hash_embeddings: DeterministicFakeEmbedding,
    scripted_llm: ScriptedChatModel,
) -> ScriptedChatModel:
    """Make ``Rag`` (and so the CLI) use the hash embeddings and the scripted chat model."""
    monkeypatch.setattr(app.api, "build_embeddings", lambda settings: hash_embeddings)

    def choose(settings: Any) -> LlmChoice:
        if settings.llm_provider == "none":
            return LlmChoice("none", "", "retrieval only")
        return LlmChoice("fake", "scripted", "unit test")

    monkeypatch.setattr(app.api, "choose_llm", choose)
    monkeypatch.setattr(
        app.api,
        "build_llm",
        lambda settings, choice, limits=None: None if choice.provider == "none" else scripted_llm,
    )
    return scripted_llm


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
