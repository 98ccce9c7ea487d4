"""``rag serve``: the web app, the HTTP API and the OpenAI-compatible endpoint on one port."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.api import Rag


def run_serve(rag: Rag, host: str, port: int) -> None:
    """Serve ``rag`` until Ctrl+C (FastAPI and uvicorn are imported only now)."""
    from app.serve.server import serve

    serve(rag, host, port)
