"""Pydantic models of every request and response: the fields of the CLI's ``--json`` output.

Responses are built from ``Answer.to_dict()``, ``Source.to_dict()``, ``IndexStatus.to_dict()``
and ``IndexedFile.to_dict()``; these models describe those dicts for the OpenAPI schema.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from retrievers.modes import Mode

MAX_QUESTION_CHARS = 4000


class ErrorDetail(BaseModel):
    """What went wrong, in one line."""

    type: str
    message: str


class ErrorResponse(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


class SearchRequest(BaseModel):
    """A question and how to search for it (unset fields keep the server's settings)."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    k: int | None = Field(default=None, ge=1, le=100)
    mode: Mode | None = None
    source_glob: str | None = Field(default=None, max_length=500)
    mmr: bool = False


class ChatTurn(BaseModel):
    """One earlier turn of a conversation."""

    role: Literal["user", "assistant"]
    content: str = Field(max_length=20000)


class AskRequest(SearchRequest):
    """A question to answer; ``force`` asks the model even when no passage is close.

    ``history``: earlier turns; a follow-up is rewritten into a standalone question first.
    """

    force: bool = False
    history: list[ChatTurn] = Field(default_factory=list, max_length=50)


class SourceModel(BaseModel):
    """A retrieved chunk: ``Source.to_dict()``."""

    source: str
    page: int | None
    chunk: int
    score: float
    text: str
    id: str
    start_index: int | None


class EvidenceModel(BaseModel):
    """A supporting sentence: its file, page, character span in the chunk, and fit."""

    source: str
    page: int | None
    start: int
    end: int
    text: str
    score: float
    source_number: int


class SupportModel(BaseModel):
    """One sentence of a generated answer and whether the sources back it."""

    text: str
    supported: bool
    missing: list[str]


class AnswerModel(BaseModel):
    """An answer with its sources, evidence and support marks: ``Answer.to_dict()``."""

    question: str
    answer: str | None
    sources: list[SourceModel]
    evidence: list[EvidenceModel]
    cited: list[int]
    removed_citations: list[int]
    standalone_question: str
    closest: list[SourceModel]
    cited_quotes: list[EvidenceModel]
    answer_kind: str
    short_answer: str
    quoted_from: EvidenceModel | None
    support: list[SupportModel]
    supported_share: float
    llm: str


class SearchResponse(BaseModel):
    """The ranked passages for a question, best first."""

    question: str
    sources: list[SourceModel]


class ChunkingModel(BaseModel):
    """How the chunks of the index were cut."""

    chunk_size: int
    chunk_overlap: int
    context: str
    splitter: str


class StatusModel(BaseModel):
    """What ``rag status`` shows: ``IndexStatus.to_dict()``."""

    index_dir: str
    files: int
    chunks: int
    embedding: str
    dimension: int
    size_bytes: int
    created_at: str
    chunking: ChunkingModel
    index_type: str


class DocumentModel(BaseModel):
    """One file in the index: ``IndexedFile.to_dict()``."""

    source: str
    path: str
    chunks: int
    size: int
    content_hash: str


class DocumentsResponse(BaseModel):
    """The files in the index, by source."""

    documents: list[DocumentModel]


class ForgetResponse(BaseModel):
    """What leaving the index removed."""

    index_dir: str
    removed: list[str]
    chunks_removed: int
    files_left: int
    chunks_left: int
    seconds: float


class IngestPathRequest(BaseModel):
    """A folder or file under one of the server's RAG_SERVE_ROOTS to index."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, max_length=4096)


class SkippedModel(BaseModel):
    """A file that was not indexed (or was read only in part), and why."""

    path: str
    reason: str


class JobModel(BaseModel):
    """An ingest job: files read of total, then chunks embedded of total; its report when done.

    ``files_total`` is 0 for a folder until its walk has counted the files to read.
    """

    id: str
    state: Literal["running", "done", "failed"]
    files_done: int
    files_total: int
    chunks_done: int
    chunks_total: int
    skipped: list[SkippedModel]
    warned: list[SkippedModel]
    report: dict[str, Any] | None
    summary: str
    error: ErrorDetail | None


class OpenAIMessage(BaseModel):
    """One chat message; content as text or OpenAI's list of text parts."""

    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: str | list[dict[str, Any]] | None = None


class ChatCompletionRequest(BaseModel):
    """The OpenAI chat completion request (fields ragkit does not use are accepted)."""

    model_config = ConfigDict(extra="allow")

    model: str = "ragkit"
    messages: list[OpenAIMessage] = Field(min_length=1, max_length=200)
    stream: bool = False


class ModelCard(BaseModel):
    """One model of ``GET /v1/models``."""

    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    """``GET /v1/models``."""

    object: Literal["list"] = "list"
    data: list[ModelCard]


class ChatMessageOut(BaseModel):
    """The answer as an assistant message."""

    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    """The one choice of a chat completion."""

    index: int
    message: ChatMessageOut
    finish_reason: str


class Usage(BaseModel):
    """Token counts (words, roughly: ragkit does not tokenize for the client)."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    """The OpenAI chat completion response, with ragkit's structured sources in ``sources``."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage
    sources: list[SourceModel]
    ragkit: AnswerModel
