"""The one error shape of every HTTP response: ``{"error": {"type", "message"}}``."""

from __future__ import annotations

from typing import Any

from app.errors import http_status_of, one_line


def error_body(error: BaseException) -> dict[str, Any]:
    """The JSON body for an exception: its class name and its one-line message, no traceback."""
    return {"error": {"type": type(error).__name__, "message": one_line(error)}}


def error_headers(error: BaseException) -> dict[str, str]:
    """Headers an error response carries: Retry-After when busy, WWW-Authenticate for 401."""
    headers = {}
    retry_after = getattr(error, "retry_after", None)
    if isinstance(retry_after, int | float) and retry_after > 0:
        headers["Retry-After"] = str(max(1, round(retry_after)))
    if http_status_of(error) == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return headers
