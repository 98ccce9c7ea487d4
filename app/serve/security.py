"""The server's safety rules, as a pure-ASGI middleware any Starlette or FastAPI app can use.

A server on 127.0.0.1 is reachable from every web page its user opens, so:

- the Host header must name the server itself (loopback names or the bound address, with the
  bound port): a page on a rebound DNS name is refused (DNS rebinding);
- a state-changing request (POST, PUT, PATCH, DELETE) whose Origin is another site is refused;
- with a token set, every request outside ``public_paths`` needs ``Authorization: Bearer TOKEN``
  (compared in constant time);
- ``check_bind`` refuses to listen on another address than loopback without a token.

``Guard.refusal`` is the pure core: request facts in, the error to answer with (or None) out.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from app.errors import ConfigError, ForbiddenRequestError, RagError, TokenError, http_status_of
from app.serve.errors import error_body, error_headers

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD_ADDRESSES = frozenset({"0.0.0.0", "::", ""})
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or address, IPv6 with or without brackets) is this machine only."""
    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str) -> None:
    """Refuse to listen on a non-loopback address without a token (``ConfigError``)."""
    if not is_loopback(host) and not token:
        shown = host or "all addresses"
        raise ConfigError(
            f"refusing to listen on {shown} without a token: set RAG_SERVE_TOKEN, "
            "or bind 127.0.0.1 (the default)"
        )


def split_host(value: str) -> tuple[str, int | None]:
    """``name[:port]`` of a Host header (IPv6 in brackets), lower-cased; port None if absent.

    A value that is not a host (spaces, a path, a bad port) gives an empty name.
    """
    value = value.strip().lower()
    if not value or any(ch in value for ch in " /\\@?#"):
        return "", None
    if value.startswith("["):
        name, _, rest = value[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
        if rest and not rest.startswith(":"):
            return "", None
    elif value.count(":") == 1:
        name, _, port_text = value.partition(":")
    elif ":" in value:  # a bare IPv6 address
        name, port_text = value, ""
    else:
        name, port_text = value, ""
    if not port_text:
        return name, None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        return "", None
    return name, int(port_text)


@dataclass(frozen=True)
class Guard:
    """The rules for one server: the address it is bound to, its token, what needs none.

    ``port`` None accepts any port (an app not yet bound); ``public_paths`` (exact) and
    ``public_prefixes`` are served without the token, e.g. the web page that asks for it.
    A wildcard bind (0.0.0.0) cannot know its names, so it accepts any Host; it needs a token.
    """

    host: str = "127.0.0.1"
    port: int | None = None
    token: str = ""
    public_paths: tuple[str, ...] = ()
    public_prefixes: tuple[str, ...] = ()
    extra_hosts: tuple[str, ...] = ()

    @property
    def names(self) -> frozenset[str]:
        """Host names this server answers to."""
        own = self.host.strip().strip("[]").lower()
        extra = {name.strip().strip("[]").lower() for name in self.extra_hosts}
        return LOOPBACK_NAMES | {own} | extra

    def own_host(self, value: str, default_port: int = 80) -> bool:
        """Whether a Host header value (``name[:port]``) names this server."""
        name, port = split_host(value)
        if not name:
            return False
        if self.port is not None and (port if port is not None else default_port) != self.port:
            return False
        return self.host.strip("[]") in WILDCARD_ADDRESSES or name in self.names

    def own_origin(self, origin: str) -> bool:
        """Whether an Origin header is this server's own page."""
        parts = urlsplit(origin.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
            return False
        return self.own_host(parts.netloc, 443 if parts.scheme == "https" else 80)

    def is_public(self, path: str) -> bool:
        """Whether ``path`` is served without the token."""
        return path in self.public_paths or path.startswith(self.public_prefixes)

    def refusal(
        self, method: str, path: str, headers: Mapping[str, str], scheme: str = "http"
    ) -> RagError | None:
        """The error to answer a request with, or None to let it through.

        ``headers`` has lower-case names (the last value of each).
        """
        host = headers.get("host", "")
        if not self.own_host(host, 443 if scheme in ("https", "wss") else 80):
            return ForbiddenRequestError(
                f"Host {host[:100]!r} is not this server's address; open it as "
                f"http://127.0.0.1:{self.port or 'PORT'}/"
            )
        origin = headers.get("origin")
        if method.upper() in STATE_CHANGING and origin is not None and not self.own_origin(origin):
            return ForbiddenRequestError(
                f"requests from another site ({origin[:100]}) may not change anything here"
            )
        if self.token and not self.is_public(path) and not self.token_matches(headers):
            given = "authorization" in headers
            return TokenError(
                "wrong token"
                if given
                else "this server needs a token: send "
                "`Authorization: Bearer TOKEN` (the RAG_SERVE_TOKEN it was started with)"
            )
        return None

    def token_matches(self, headers: Mapping[str, str]) -> bool:
        """Whether the request has ``Authorization: Bearer TOKEN`` (compared in constant time)."""
        scheme, _, given = headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(given.strip().encode(), self.token.encode())


def header_map(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """ASGI headers as a dict of lower-case names (latin-1, as HTTP defines them)."""
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in raw}


class GuardMiddleware:
    """Refuse requests that break a ``Guard``'s rules before the app sees them."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        """Wrap ``app`` (any ASGI app) with ``guard``'s rules."""
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check http and websocket requests; pass lifespan events through."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "GET") if scope["type"] == "http" else "GET"
        headers = header_map(scope.get("headers", []))
        error = self.guard.refusal(method, scope.get("path", "/"), headers, scope.get("scheme", ""))
        if error is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        else:
            await send_error(send, error)


async def send_error(send: Send, error: BaseException) -> None:
    """Answer with the JSON error shape for ``error`` (raw ASGI, no framework)."""
    body = json.dumps(error_body(error), ensure_ascii=False).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *[(name.lower().encode(), value.encode()) for name, value in error_headers(error).items()],
    ]
    await send({"type": "http.response.start", "status": http_status_of(error), "headers": headers})
    await send({"type": "http.response.body", "body": body})
