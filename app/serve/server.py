"""The FastAPI app of ``rag serve`` and the uvicorn server that runs it.

Middleware, outermost first: the safety rules (``security.Guard``), the request size limit,
then FastAPI; every error becomes ``{"error": {"type", "message"}}`` with its status.
"""

from __future__ import annotations

import sys
from http import HTTPStatus
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from app.errors import RagError, TooLargeError, UsageError, http_status_of
from app.serve.errors import error_body, error_headers
from app.serve.security import Guard, GuardMiddleware, check_bind, send_error
from app.serve.state import ServerState

if TYPE_CHECKING:
    from app.api import Rag
    from app.serve.security import ASGIApp, Message, Receive, Scope, Send

PUBLIC_PATHS = ("/", "/docs", "/openapi.json", "/favicon.ico")
PUBLIC_PREFIXES = ("/static/", "/docs-assets/")


def create_app(state: ServerState) -> FastAPI:
    """The app over ``state`` (routes, error handlers); wrap it with ``guarded`` to serve it."""
    from app.serve.routes import answers, catalog, ingest, openai, page

    app = FastAPI(
        title="ragkit",
        summary="Questions answered from your own documents, with citations.",
        version="0.1.0",
        docs_url=None,  # served by routes.page with local assets, not FastAPI's CDN ones
        redoc_url=None,
    )
    app.state.ragkit = state
    for module in (answers, catalog, ingest, openai, page):
        app.include_router(module.router)
    app.add_exception_handler(RagError, _error_response)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(Exception, _error_response)
    return app


def guarded(app: ASGIApp, state: ServerState, host: str, port: int, token: str) -> ASGIApp:
    """``app`` behind the safety rules and the request size limit."""
    guard = Guard(
        host=host,
        port=port,
        token=token,
        public_paths=PUBLIC_PATHS,
        public_prefixes=PUBLIC_PREFIXES,
    )
    return GuardMiddleware(BodyLimit(app, state.limits.request_bytes), guard)


async def _error_response(request: Request, error: Exception) -> JSONResponse:
    return JSONResponse(
        error_body(error), status_code=http_status_of(error), headers=error_headers(error)
    )


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    name = HTTPStatus(error.status_code).phrase.replace(" ", "").replace("-", "")
    body = {"error": {"type": name, "message": str(error.detail)}}
    return JSONResponse(body, status_code=error.status_code, headers=error.headers)


async def _invalid_request(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = []
    for problem in error.errors()[:3]:
        where = ".".join(str(part) for part in problem.get("loc", ()) if part != "body")
        problems.append(f"{where or 'body'}: {problem.get('msg', 'invalid')}")
    return await _error_response(request, UsageError("; ".join(problems) or "invalid request"))


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` (413): by Content-Length, or while reading."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        """Wrap ``app``."""
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length first, then count what arrives."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        error = TooLargeError(
            f"the request is over {self.max_bytes // 2**20} MB (RAG_SERVE_MAX_UPLOAD_MB)"
        )
        declared = dict(scope.get("headers", [])).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await send_error(send, error)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise error
            return message

        await self.app(scope, counted, send)


def warm(rag: Rag) -> None:
    """Load the models and the index now, so the first question does not wait for them."""
    from app.errors import IndexNotFoundError

    try:
        rag.index()
        rag.embeddings.embed_query("warm up")
    except IndexNotFoundError:
        pass  # an empty server can still take uploads
    rag.warm_up()


def serve(rag: Rag, host: str, port: int) -> None:
    """Run the server until interrupted (refuses a non-loopback bind without a token)."""
    import uvicorn

    token = rag.settings.serve_token
    check_bind(host, token)
    state = ServerState.for_rag(rag)
    warm(rag)
    app = guarded(create_app(state), state, host, port, token)
    shown = f"[{host}]" if ":" in host else host
    print(
        f"ragkit: serving {rag.store.location} at http://{shown}:{port}/ "
        f"(API docs at /docs; answers by {rag.llm_label or 'retrieval only'}); Ctrl+C stops",
        file=sys.stderr,
        flush=True,
    )
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, server_header=False
    )
    uvicorn.Server(config).run()
    state.jobs.join(timeout=5)
