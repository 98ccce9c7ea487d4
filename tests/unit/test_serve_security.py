"""The server's safety rules: Host, Origin, token and bind, as a core and as ASGI middleware."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.errors import ConfigError, ForbiddenRequestError, TokenError
from app.serve.security import Guard, GuardMiddleware, check_bind, is_loopback, split_host

GUARD = Guard(host="127.0.0.1", port=8000)
OWN = {"host": "127.0.0.1:8000"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:8000", ("127.0.0.1", 8000)),
        ("LocalHost", ("localhost", None)),
        ("[::1]:8000", ("::1", 8000)),
        ("::1", ("::1", None)),
        ("evil.example:99999", ("", None)),
        ("evil.example/path", ("", None)),
        ("user@127.0.0.1:8000", ("", None)),
        ("", ("", None)),
    ],
)
def test_host_headers_split_into_name_and_port(value: str, expected: tuple[str, Any]) -> None:
    assert split_host(value) == expected


@pytest.mark.parametrize(
    "host", ["127.0.0.1:8000", "localhost:8000", "[::1]:8000", "LOCALHOST:8000"]
)
def test_loopback_names_with_the_bound_port_are_the_server_own(host: str) -> None:
    assert GUARD.refusal("GET", "/api/status", {"host": host}) is None


@pytest.mark.parametrize(
    "host",
    ["attacker.example:8000", "127.0.0.1:8001", "localhost", "", "127.0.0.1.attacker.example:8000"],
)
def test_a_foreign_host_or_port_is_refused(host: str) -> None:
    error = GUARD.refusal("GET", "/api/status", {"host": host})
    assert isinstance(error, ForbiddenRequestError)
    assert "is not this server's address" in str(error)


def test_the_bound_address_and_extra_names_count_as_own() -> None:
    guard = Guard(host="192.168.1.5", port=8000, token="t", extra_hosts=("rag.lan",))
    headers = {"authorization": "Bearer t"}
    assert guard.refusal("GET", "/", {**headers, "host": "192.168.1.5:8000"}) is None
    assert guard.refusal("GET", "/", {**headers, "host": "rag.lan:8000"}) is None
    assert guard.refusal("GET", "/", {**headers, "host": "other.lan:8000"}) is not None


def test_a_wildcard_bind_accepts_any_name_on_its_port() -> None:
    guard = Guard(host="0.0.0.0", port=8000, token="t")
    headers = {"authorization": "Bearer t"}
    assert guard.refusal("GET", "/", {**headers, "host": "myhost.lan:8000"}) is None
    assert guard.refusal("GET", "/", {**headers, "host": "myhost.lan:9000"}) is not None


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize(
    "origin", ["https://attacker.example", "null", "http://127.0.0.1:9999", "file://"]
)
def test_state_changing_requests_from_a_foreign_origin_are_refused(
    method: str, origin: str
) -> None:
    error = GUARD.refusal(method, "/api/ask", {**OWN, "origin": origin})
    assert isinstance(error, ForbiddenRequestError)
    assert "another site" in str(error)


def test_same_origin_and_no_origin_may_change_things_and_reads_ignore_origin() -> None:
    assert GUARD.refusal("POST", "/api/ask", {**OWN, "origin": "http://127.0.0.1:8000"}) is None
    assert GUARD.refusal("POST", "/api/ask", {**OWN, "origin": "http://localhost:8000"}) is None
    assert GUARD.refusal("POST", "/api/ask", OWN) is None  # curl, the openai client
    assert GUARD.refusal("GET", "/api/status", {**OWN, "origin": "https://a.example"}) is None


def test_a_token_is_needed_outside_the_public_paths() -> None:
    guard = Guard(port=8000, token="s3cret", public_paths=("/",), public_prefixes=("/static/",))
    missing = guard.refusal("GET", "/api/status", OWN)
    assert isinstance(missing, TokenError)
    assert "Authorization: Bearer TOKEN" in str(missing)
    wrong = guard.refusal("GET", "/api/status", {**OWN, "authorization": "Bearer s3cre"})
    assert isinstance(wrong, TokenError) and str(wrong) == "wrong token"
    basic = guard.refusal("GET", "/api/status", {**OWN, "authorization": "Basic s3cret"})
    assert isinstance(basic, TokenError)
    assert guard.refusal("GET", "/api/status", {**OWN, "authorization": "bearer s3cret"}) is None
    assert guard.refusal("GET", "/", OWN) is None
    assert guard.refusal("GET", "/static/app.js", OWN) is None
    assert isinstance(guard.refusal("GET", "/staticx", OWN), TokenError)


def test_the_host_is_checked_before_the_token() -> None:
    guard = Guard(port=8000, token="t")
    error = guard.refusal("GET", "/", {"host": "evil.example:8000", "authorization": "Bearer t"})
    assert isinstance(error, ForbiddenRequestError)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_loopback_binds_need_no_token(host: str) -> None:
    assert is_loopback(host)
    check_bind(host, "")


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "myhost.lan", ""])
def test_other_binds_refuse_to_start_without_a_token(host: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_bind(host, "")
    message = str(caught.value)
    assert "RAG_SERVE_TOKEN" in message and "\n" not in message
    check_bind(host, "a-token")


async def hello(scope: Any, receive: Any, send: Any) -> None:
    """The smallest ASGI app: 200 and a word."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


def call(guard: Guard, method: str, path: str, **headers: str) -> tuple[int, dict[str, str], Any]:
    """Run one request through the middleware; (status, headers, body as text or JSON).

    Nothing here waits on I/O, so the coroutine runs to its end without an event loop
    (unit tests have no sockets, and an asyncio loop needs a socket pair).
    """
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "scheme": "http",
        "headers": [
            (name.replace("_", "-").encode(), value.encode())
            for name, value in {"host": "127.0.0.1:8000", **headers}.items()
        ],
    }
    coroutine = GuardMiddleware(hello, guard)(scope, None, send)  # type: ignore[arg-type]
    with pytest.raises(StopIteration):
        coroutine.send(None)
    start, body = sent
    response_headers = {k.decode(): v.decode() for k, v in start["headers"]}
    text = body["body"].decode()
    is_json = response_headers.get("content-type") == "application/json"
    return start["status"], response_headers, json.loads(text) if is_json else text


def test_the_middleware_passes_good_requests_and_answers_refusals_in_json() -> None:
    guard = Guard(port=8000, token="tok")
    assert call(guard, "POST", "/api/ask", authorization="Bearer tok") == (200, {}, "hello")

    status, headers, body = call(guard, "GET", "/api/status")
    assert status == 401 and headers["www-authenticate"] == "Bearer"
    assert body["error"]["type"] == "TokenError"

    status, headers, body = call(
        guard, "POST", "/api/ask", authorization="Bearer tok", origin="https://attacker.example"
    )
    assert status == 403
    assert int(headers["content-length"]) == len(json.dumps(body).encode())
    assert body == {
        "error": {
            "type": "ForbiddenRequestError",
            "message": "requests from another site (https://attacker.example) "
            "may not change anything here",
        }
    }

    status, _, body = call(
        guard, "GET", "/api/status", host="attacker.example:8000", authorization="Bearer tok"
    )
    assert status == 403 and set(body["error"]) == {"type", "message"}


def test_lifespan_events_pass_through() -> None:
    seen = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    coroutine = GuardMiddleware(app, GUARD)({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    with pytest.raises(StopIteration):
        coroutine.send(None)
    assert seen == ["lifespan"]
