"""FastAPI dependencies: the server state, and the error responses every route documents."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from app.serve.schemas import ErrorResponse
from app.serve.state import ServerState


def server_state(request: Request) -> ServerState:
    """The state ``create_app`` stored on the app."""
    state: ServerState = request.app.state.ragkit
    return state


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for error statuses, all with the one error shape."""
    return {status: {"model": ErrorResponse} for status in (400, 401, 403, *statuses)}
