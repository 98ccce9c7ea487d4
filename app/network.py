"""Where the Ollama service is, in the forms Ollama itself accepts."""

from __future__ import annotations

from urllib.parse import urlsplit

DEFAULT_OLLAMA_PORT = 11434


def normalize_ollama_host(value: str) -> str:
    """Turn ``127.0.0.1:11434``, ``localhost``, ``0.0.0.0`` or ``[::1]:11434`` into a base URL."""
    text = value.strip().rstrip("/")
    if not text:
        text = "127.0.0.1"
    if "://" not in text:
        text = f"http://{text}"
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not a host, host:port or http(s) URL: {value!r}")
    host = parts.hostname
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1" if host == "0.0.0.0" else "::1"
    port = parts.port or (DEFAULT_OLLAMA_PORT if parts.scheme == "http" else 443)
    shown_host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{shown_host}:{port}{parts.path}"


def is_loopback_url(url: str) -> bool:
    """True when the URL's host is this machine (localhost, 127.0.0.0/8 or ::1)."""
    host = (urlsplit(url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")
