"""POST /api/ask (JSON or server-sent events) and POST /api/search."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Request

from app.answers import SearchOptions
from app.errors import UsageError
from app.serve.conversation import history_of
from app.serve.dependencies import error_responses, server_state
from app.serve.errors import error_body
from app.serve.schemas import AnswerModel, AskRequest, SearchRequest, SearchResponse
from app.serve.state import ServerState
from app.serve.streaming import AnswerEvents, answer_pieces, event_stream_response, sse

router = APIRouter(prefix="/api", tags=["answers"])
State = Annotated[ServerState, Depends(server_state)]


def search_options(body: SearchRequest) -> SearchOptions:
    """The request's search fields as ``SearchOptions`` (unset ones keep the settings)."""
    return SearchOptions(
        k=body.k,
        mode=body.mode,
        source_glob=body.source_glob or None,
        mmr=body.mmr,
        force=isinstance(body, AskRequest) and body.force,
    )


def answer_dict(state: ServerState, answer: Any) -> dict[str, Any]:
    """``Answer.to_dict()``, with ``answer`` None for retrieval only (as ``rag ask --json``)."""
    data: dict[str, Any] = answer.to_dict()
    if state.rag.llm_choice.provider == "none":
        data["answer"] = None
    return data


@router.post(
    "/ask",
    response_model=AnswerModel,
    responses={
        **error_responses(404, 409, 503),
        200: event_stream_response(
            ["token", "answer", "error"],
            'JSON: {"text"} for a token, the answer object, or the error body for "error"',
        ),
    },
)
async def ask(body: AskRequest, request: Request, state: State) -> Any:
    """Answer from the documents with sources, evidence and support marks.

    With ``Accept: text/event-stream``: ``token`` events (``{"text"}``), then one ``answer``
    event with the whole answer (or one ``error`` event).
    """
    question = body.question.strip()
    if not question:
        raise UsageError("the question is empty")
    options = search_options(body)
    history = history_of((turn.role, turn.content) for turn in body.history)
    place = state.queue.admit()

    def start() -> Any:
        return state.rag.stream(question, options, history=history)

    pieces = answer_pieces(state.queue, place, start)
    if "text/event-stream" in request.headers.get("accept", ""):
        return AnswerEvents(events(state, pieces), place)
    async with aclosing(pieces):
        async for kind, value in pieces:
            if kind == "error":
                raise value
            if kind == "answer":
                return answer_dict(state, value)
    raise RuntimeError("the answer stream ended without an answer")


async def events(
    state: ServerState, pieces: AsyncGenerator[tuple[str, Any], None]
) -> AsyncIterator[str]:
    """The answer stream as server-sent events."""
    async with aclosing(pieces):
        async for kind, value in pieces:
            if kind == "token":
                yield sse("token", {"text": value})
            elif kind == "answer":
                yield sse("answer", answer_dict(state, value))
            else:
                yield sse("error", error_body(value))


@router.post("/search", response_model=SearchResponse, responses=error_responses(404, 409, 503))
async def search(body: SearchRequest, state: State) -> dict[str, Any]:
    """The passages closest to the question, best first; no answer model involved."""
    options = search_options(body)
    sources = await anyio.to_thread.run_sync(lambda: state.rag.retrieve(body.question, options))
    return {"question": body.question, "sources": [source.to_dict() for source in sources]}
