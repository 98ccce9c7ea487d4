"""The OpenAI-compatible chat API: GET /v1/models and POST /v1/chat/completions.

The last user message is the question and earlier turns its history (a follow-up is rewritten
into a standalone question, as in ``rag chat``). The answer text ends with its numbered
sources, so any chat front end shows them; ``sources`` and ``ragkit`` carry the structured
answer for clients that read them.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from app.answers import Answer
from app.errors import UsageError
from app.serve.conversation import history_of, message_text
from app.serve.dependencies import error_responses, server_state
from app.serve.errors import error_body
from app.serve.routes.answers import answer_dict
from app.serve.schemas import ChatCompletion, ChatCompletionRequest, ModelList
from app.serve.state import ServerState
from app.serve.streaming import AnswerEvents, answer_pieces, event_stream_response

router = APIRouter(prefix="/v1", tags=["openai"])
State = Annotated[ServerState, Depends(server_state)]


@router.get("/models", response_model=ModelList, responses=error_responses())
def models(state: State) -> dict[str, Any]:
    """The one model this server answers as: its index."""
    return {
        "object": "list",
        "data": [{"id": state.model_name, "object": "model", "created": 0, "owned_by": "ragkit"}],
    }


def sources_footer(answer: Answer) -> str:
    """The numbered sources, as text after the answer (empty when there are none)."""
    if not answer.sources:
        return ""
    lines = [f"[{number}] {source.location}" for number, source in enumerate(answer.sources, 1)]
    return "\n\nSources:\n" + "\n".join(lines)


def split_messages(body: ChatCompletionRequest) -> tuple[str, list[tuple[str, str]]]:
    """The question (the last user message) and the turns before it."""
    turns: list[tuple[str, str]] = [
        (message.role, message_text(message.content)) for message in body.messages
    ]
    last_user = max((i for i, (role, _) in enumerate(turns) if role == "user"), default=None)
    if last_user is None or not turns[last_user][1].strip():
        raise UsageError("the last user message is the question, and there is none")
    return turns[last_user][1].strip(), turns[:last_user]


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={
        **error_responses(404, 409, 503),
        200: event_stream_response(
            ["message"], "a chat.completion.chunk as JSON, and [DONE] at the end"
        ),
    },
)
async def chat_completions(body: ChatCompletionRequest, state: State) -> Any:
    """Answer the last user message from the documents (``stream: true`` for chunks)."""
    question, earlier = split_messages(body)
    history = history_of(earlier)
    place = state.queue.admit()
    pieces = answer_pieces(state.queue, place, lambda: state.rag.stream(question, history=history))
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    if body.stream:
        return AnswerEvents(chunks(pieces, completion_id, created, body.model, state), place)
    async with aclosing(pieces):
        async for kind, value in pieces:
            if kind == "error":
                raise value
            if kind == "answer":
                return completion(value, completion_id, created, body.model, state)
    raise RuntimeError("the answer stream ended without an answer")


def completion(
    answer: Answer, completion_id: str, created: int, model: str, state: ServerState
) -> dict[str, Any]:
    """The whole answer as one chat completion."""
    text = (answer.marked_text or "") + sources_footer(answer)
    prompt_words = len(answer.question.split())
    words = len(text.split())
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_words,
            "completion_tokens": words,
            "total_tokens": prompt_words + words,
        },
        "sources": [source.to_dict() for source in answer.sources],
        "ragkit": answer_dict(state, answer),
    }


def chunk(
    completion_id: str, created: int, model: str, delta: dict[str, Any], finish: str | None = None
) -> dict[str, Any]:
    """One ``chat.completion.chunk``."""
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


async def chunks(
    pieces: AsyncGenerator[tuple[str, Any], None],
    completion_id: str,
    created: int,
    model: str,
    state: ServerState,
) -> AsyncIterator[str]:
    """The answer as OpenAI's stream: a role chunk, text chunks, the sources, ``[DONE]``."""

    def data(payload: dict[str, Any]) -> str:
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

    yield data(chunk(completion_id, created, model, {"role": "assistant", "content": ""}))
    async with aclosing(pieces):
        async for kind, value in pieces:
            if kind == "token":
                yield data(chunk(completion_id, created, model, {"content": value}))
            elif kind == "answer":
                footer = sources_footer(value)
                if footer:
                    yield data(chunk(completion_id, created, model, {"content": footer}))
                final = chunk(completion_id, created, model, {}, "stop")
                final["sources"] = [source.to_dict() for source in value.sources]
                final["ragkit"] = answer_dict(state, value)
                yield data(final)
            else:
                yield data(error_body(value))
    yield "data: [DONE]\n\n"
