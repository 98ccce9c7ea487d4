"""Answers piece by piece from a worker thread, in the answer queue's turn, as an async stream."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING, Any

import anyio.to_thread

if TYPE_CHECKING:
    from app.answers import Answer, AnswerStream
    from app.serve.answer_queue import AnswerQueue

Piece = tuple[str, Any]
"""``("token", text)``, then ``("answer", Answer)`` or ``("error", exception)``."""


def sse(event: str, data: Any) -> str:
    """One server-sent event with a JSON payload."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def answer_pieces(
    queue: AnswerQueue, start: Callable[[], AnswerStream]
) -> AsyncGenerator[Piece, None]:
    """Run ``start()`` and its stream in threads during one turn of the (admitted) queue.

    The queue place is given back however the stream ends, a client leaving included.
    """
    turn: list[float] = []
    try:
        turn.append(await anyio.to_thread.run_sync(queue.wait_turn))
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
        queue.leave()
