"""Answers piece by piece from a worker thread, in the answer queue's turn, as an async stream."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
from starlette.responses import StreamingResponse

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

    from app.answers import Answer, AnswerStream
    from app.serve.answer_queue import AnswerQueue, Place

Piece = tuple[str, Any]
"""``("token", text)``, then ``("answer", Answer)`` or ``("error", exception)``."""


def event_stream_response(events: list[str], data: str) -> dict[str, Any]:
    """The OpenAPI description of a 200 ``text/event-stream`` response, one event at a time.

    OpenAPI 3.0 and 3.1 have no ``itemSchema``; tools such as schemathesis read ``schema`` as
    the schema of each parsed event (``data``, ``event``, ``id``, ``retry``).
    """
    item = {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {"type": "string", "description": data},
            "event": {"type": "string", "enum": events},
            "id": {"type": "string"},
            "retry": {"type": "integer"},
        },
    }
    return {"content": {"text/event-stream": {"schema": item}}}


def sse(event: str, data: Any) -> str:
    """One server-sent event with a JSON payload."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def answer_pieces(
    queue: AnswerQueue, place: Place, start: Callable[[], AnswerStream]
) -> AsyncGenerator[Piece, None]:
    """Run ``start()`` and its stream in threads during one turn of the queue, in ``place``.

    The turn and the place are given back however the stream ends, a client leaving included.
    """
    turn: list[float] = []
    try:
        turn.append(await queue.next_turn())
        stream = await anyio.to_thread.run_sync(start)
        while (piece := await anyio.to_thread.run_sync(next, stream, None)) is not None:
            yield "token", piece
        answer: Answer = await anyio.to_thread.run_sync(lambda: stream.answer)
        yield "answer", answer
    except Exception as error:  # reported to the client as one error event
        yield "error", error
    finally:
        if turn:
            queue.end_turn(turn[0])
        place.leave()


class AnswerEvents(StreamingResponse):
    """A streamed answer (server-sent events) that gives its queue place back when it ends.

    However the response ends (finished, failed, or its client gone before the first event or
    during the stream) the body is closed, which ends the answer's turn, and the place is left.
    """

    def __init__(self, content: AsyncIterator[str], place: Place) -> None:
        """Stream ``content``, the events of the answer admitted in ``place``."""
        super().__init__(
            content,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
        self._content = content
        self._place = place

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the events; then close the body and leave the place, whatever happened."""
        try:
            await super().__call__(scope, receive, send)
        finally:
            closing = getattr(self._content, "aclose", None)
            if closing is not None:
                with anyio.CancelScope(shield=True):
                    await closing()
            self._place.leave()
