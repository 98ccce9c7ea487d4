"""A stand-in for the Ollama service on 127.0.0.1 that speaks its REST API.

Embeddings come from the real MiniLM model; chat replies are a fixed sentence streamed word
by word as NDJSON, like Ollama does. The real ``ChatOllama`` and ``OllamaEmbeddings``
clients talk to it over loopback.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.loopback import serve_on_loopback

Embedder = Callable[[list[str]], list[list[float]]]
REPLY = "Stand-in Ollama answer: write a Modelfile with FROM and run ollama create [1]."


def minilm_embedder() -> Embedder:
    """Embeddings from the real MiniLM weights that ship in a Python package."""
    from sentence_transformers import SentenceTransformer

    from app.config.settings import DEFAULT_HF_EMBED_MODEL
    from app.models.embeddings import resolve_embedding_model

    model = SentenceTransformer(resolve_embedding_model(DEFAULT_HF_EMBED_MODEL), device="cpu")

    def embed(texts: list[str]) -> list[list[float]]:
        vectors = model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
        return [[float(x) for x in row] for row in vectors]

    return embed


@dataclass
class StandInOllama:
    """Start with ``with StandInOllama(...) as server:``; ``server.url`` is its base URL."""

    embedder: Embedder
    models: Sequence[str] = ("llama3.2:latest", "all-minilm:latest")
    reply: str = REPLY
    tags_delay: float = 0.0
    chat_error: tuple[int, str] | None = None
    fail_when: str | None = None
    slow_when: str | None = None
    slow_delay: float = 0.4
    requests: list[tuple[str, str, str]] = field(default_factory=list)
    url: str = ""
    _stack: ExitStack = field(default_factory=ExitStack)

    def __enter__(self) -> StandInOllama:
        self.url = self._stack.enter_context(serve_on_loopback(_handler_for(self)))
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def has(self, name: str) -> bool:
        return name in self.models or f"{name}:latest" in self.models

    def paths(self) -> list[str]:
        return [path for _, path, _ in self.requests]


def _handler_for(state: StandInOllama) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read ``state.requests`` instead."""

        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            return json.loads(raw) if raw else {}

        def _send(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            state.requests.append(("GET", self.path, ""))
            if self.path == "/api/version":
                self._send(200, {"version": "0.12.0-stand-in"})
            elif self.path == "/api/tags":
                time.sleep(state.tags_delay)
                self._send(200, {"models": [_model_entry(name) for name in state.models]})
            else:
                self._send(404, {"error": "not found"})

        def do_POST(self) -> None:
            body = self._body()
            model = str(body.get("model", ""))
            state.requests.append(("POST", self.path, model))
            if self.path in (
                "/api/chat",
                "/api/generate",
                "/api/embed",
                "/api/embeddings",
                "/api/show",
            ) and not state.has(model):
                self._send(404, {"error": f'model "{model}" not found, try pulling it first'})
                return
            if self.path == "/api/show":
                self._send(
                    200,
                    {
                        "modelfile": f"FROM {model}",
                        "parameters": "",
                        "template": "",
                        "details": _details(),
                        "model_info": {},
                        "capabilities": ["completion"],
                    },
                )
            elif self.path == "/api/embed":
                inputs = body.get("input", [])
                texts = [inputs] if isinstance(inputs, str) else list(inputs)
                self._send(200, {"model": model, "embeddings": state.embedder(texts)})
            elif self.path == "/api/embeddings":
                vector = state.embedder([str(body.get("prompt", ""))])[0]
                self._send(200, {"embedding": vector})
            elif self.path in ("/api/chat", "/api/generate"):
                prompt = json.dumps(body.get("messages") or body.get("prompt"))
                error = state.chat_error
                if state.fail_when and state.fail_when in prompt:
                    error = (500, "stand-in failure on request")
                if error is not None:
                    self._send(error[0], {"error": error[1]})
                    return
                slow = bool(state.slow_when and state.slow_when in prompt)
                stream = bool(body.get("stream", True))
                self._reply(model, self.path == "/api/chat", stream, slow * state.slow_delay)
            else:
                self._send(404, {"error": "not found"})

        def _reply(self, model: str, chat: bool, stream: bool, delay: float = 0.0) -> None:
            def piece(text: str, done: bool) -> dict[str, Any]:
                item: dict[str, Any] = {"model": model, "created_at": _now(), "done": done}
                if chat:
                    item["message"] = {"role": "assistant", "content": text}
                else:
                    item["response"] = text
                if done:
                    item.update(
                        done_reason="stop",
                        total_duration=1_000_000,
                        prompt_eval_count=10,
                        eval_count=len(state.reply.split()),
                    )
                return item

            if not stream:
                self._send(200, piece(state.reply, True))
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            words = state.reply.split(" ")
            parts = [word + (" " if i < len(words) - 1 else "") for i, word in enumerate(words)]
            for line in [piece(part, False) for part in parts] + [piece("", True)]:
                data = (json.dumps(line) + "\n").encode()
                try:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client stopped reading (Ctrl-C)
                time.sleep(delay)
            self.wfile.write(b"0\r\n\r\n")

    return Handler


def _details() -> dict[str, Any]:
    return {
        "format": "gguf",
        "family": "llama",
        "parameter_size": "3B",
        "quantization_level": "Q4_K_M",
    }


def _model_entry(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "model": name,
        "modified_at": _now(),
        "size": 1_000_000,
        "digest": "0" * 64,
        "details": _details(),
    }


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
