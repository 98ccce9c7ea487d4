"""Reaching Ollama directly through proxies: host forms, NO_PROXY, masking, proxy lookup.

Python HTTP clients (httpx, used by the Ollama client) send every request to the proxy in
HTTP_PROXY / HTTPS_PROXY / ALL_PROXY unless the host is in NO_PROXY. A local Ollama behind
a proxy then fails with 502s or hangs. ``route_directly`` puts the Ollama host in NO_PROXY
(and no_proxy) before any Ollama client is created; hub downloads keep using the proxy.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable, Mapping, MutableMapping
from urllib.parse import urlsplit, urlunsplit

DEFAULT_OLLAMA_PORT = 11434
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
NO_PROXY_VARIABLES = ("NO_PROXY", "no_proxy")
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")


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


def host_of(url: str) -> str:
    """The host name of a URL, lower case, without brackets."""
    return (urlsplit(url).hostname or "").lower()


def is_loopback_host(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str) -> bool:
    """True when the URL's host is this machine."""
    return is_loopback_host(host_of(url))


def merge_no_proxy(existing: str, hosts: Iterable[str]) -> str:
    """Add hosts to a NO_PROXY value, keeping its entries and order, without duplicates."""
    entries: list[str] = []
    seen: set[str] = set()
    for entry in [*existing.split(","), *hosts]:
        entry = entry.strip()
        if entry and entry.lower() not in seen:
            entries.append(entry)
            seen.add(entry.lower())
    return ",".join(entries)


def direct_hosts(ollama_url: str) -> list[str]:
    """The hosts that must bypass the proxy to reach Ollama at ``ollama_url``."""
    host = host_of(ollama_url)
    if is_loopback_host(host):
        return [host, *(name for name in LOCAL_NAMES if name != host)]
    return [host]


def route_directly(
    ollama_url: str, bypass_remote: bool, environ: MutableMapping[str, str] | None = None
) -> bool:
    """Put the Ollama host in NO_PROXY and no_proxy; returns True when it did.

    A remote host keeps the user's proxy unless ``bypass_remote`` (RAG_OLLAMA_BYPASS_PROXY).
    """
    env = os.environ if environ is None else environ
    if not is_loopback_url(ollama_url) and not bypass_remote:
        return False
    hosts = direct_hosts(ollama_url)
    current = merge_no_proxy(env.get("NO_PROXY", ""), env.get("no_proxy", "").split(","))
    merged = merge_no_proxy(current, hosts)
    for name in NO_PROXY_VARIABLES:
        env[name] = merged
    return True


def proxy_settings(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The proxy variables that are set, upper and lower case, by name."""
    env = os.environ if environ is None else environ
    names = [*PROXY_VARIABLES, *(name.lower() for name in PROXY_VARIABLES), *NO_PROXY_VARIABLES]
    return {name: env[name] for name in names if env.get(name)}


def proxy_for(url: str, environ: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """The (variable, proxy URL) a client would use for ``url``, or None when it goes direct."""
    env = os.environ if environ is None else environ
    host = host_of(url)
    if bypasses_proxy(host, env):
        return None
    scheme = urlsplit(url).scheme or "http"
    for name in (f"{scheme.upper()}_PROXY", f"{scheme}_proxy", "ALL_PROXY", "all_proxy"):
        if env.get(name):
            return name, env[name]
    return None


def bypasses_proxy(host: str, environ: Mapping[str, str]) -> bool:
    """Whether NO_PROXY (or no_proxy) covers ``host``, by the rules curl and httpx share."""
    entries = ",".join(environ.get(name, "") for name in NO_PROXY_VARIABLES).split(",")
    for raw in entries:
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        entry = re.sub(r"^\w+://", "", entry).strip("[]").split("]:")[0]
        if ":" in entry and entry.count(":") == 1:
            entry = entry.split(":")[0]
        entry = entry.lstrip(".").removeprefix("*.")
        if host == entry or host.endswith("." + entry):
            return True
    return False


def mask_credentials(url: str) -> str:
    """Hide the password (and user) in a URL such as ``http://user:secret@proxy:8080``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r"//[^@/]*@", "//***@", url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"***:***@{host}" if parts.password is not None else f"***@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def socks_support_missing(environ: Mapping[str, str] | None = None) -> str | None:
    """The SOCKS proxy variable in use when httpx's socks extra is not installed, else None."""
    env = os.environ if environ is None else environ
    for name, value in proxy_settings(env).items():
        if name.lower() != "no_proxy" and value.lower().startswith("socks"):
            try:
                import socksio  # noqa: F401
            except ImportError:
                return name
            return None
    return None
