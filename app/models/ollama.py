"""Talk to the Ollama service: probe it, and explain each way it can fail in one line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.errors import ProviderError, first_line
from app.models.network import mask_credentials, proxy_for, route_directly, socks_support_missing

if TYPE_CHECKING:
    from app.config.settings import Settings

START_HINT = "start it with `ollama serve`"
PROXY_STATUSES = frozenset({403, 407, 502, 503, 504})


@dataclass(frozen=True)
class OllamaStatus:
    """What a probe of ``url`` found: reachable or not, version, models, or the problem."""

    url: str
    reachable: bool
    version: str | None = None
    models: tuple[str, ...] = field(default=())
    problem: str | None = None

    @property
    def summary(self) -> str:
        """The problem without its advice, for a notice such as "using the embedded model"."""
        problem = self.problem or f"Ollama at {self.url} cannot be used"
        return problem.split(": start it", 1)[0].split("; ", 1)[0]

    def has(self, model: str) -> bool:
        """Whether ``model`` is pulled (``name`` matches ``name:latest``)."""
        return any(has_model_name(model, name) for name in self.models)


def has_model_name(wanted: str, name: str) -> bool:
    """Ollama names without a tag mean ``:latest``."""
    return name == wanted or (":" not in wanted and name == f"{wanted}:latest")


def probe(url: str, timeout: float) -> OllamaStatus:
    """Ask ``/api/tags`` and ``/api/version``; never raises, the problem is in the status."""
    import httpx

    try:
        with httpx.Client(timeout=timeout) as client:
            tags = client.get(f"{url}/api/tags")
            problem = _response_problem(url, tags)
            if problem is not None:
                return OllamaStatus(url, False, problem=problem)
            models = tuple(str(item["name"]) for item in tags.json().get("models", []))
            version_response = client.get(f"{url}/api/version")
            version = (
                str(version_response.json().get("version"))
                if version_response.status_code == 200
                else None
            )
    except httpx.TimeoutException:
        return OllamaStatus(url, False, problem=_timeout_problem(url, timeout))
    except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError) as error:
        return OllamaStatus(url, False, problem=describe_transport_error(url, error))
    return OllamaStatus(url, True, version, models)


def prepare_ollama(settings: Settings) -> None:
    """Before any Ollama client exists: route the host around proxies, check SOCKS support."""
    route_directly(settings.ollama_host, settings.ollama_bypass_proxy)
    variable = socks_support_missing()
    if variable is not None:
        raise ProviderError(
            f"{variable} names a SOCKS proxy but httpx's SOCKS support is missing: "
            'run `pip install "httpx[socks]"`'
        )


def require_model(url: str, model: str, timeout: float, setting: str) -> OllamaStatus:
    """Probe and raise a one-line ``ProviderError`` unless Ollama runs and has ``model``."""
    status = probe(url, timeout)
    if not status.reachable:
        raise ProviderError(status.problem or f"Ollama at {url} cannot be used")
    if not status.has(model):
        raise ProviderError(
            f"Ollama at {url} has no model {model!r}: run `ollama pull {model}` "
            f"(or set {setting} to one of: {', '.join(status.models) or 'no models yet'})"
        )
    return status


def describe_transport_error(url: str, error: BaseException) -> str:
    """One line for an error raised while talking to Ollama (connect, proxy, SOCKS, ...)."""
    import httpx

    via = proxy_for(url)
    text = first_line(error)
    if isinstance(error, ImportError) or "socksio" in text:
        return (
            "a SOCKS proxy is set but httpx's SOCKS support is missing: "
            'run `pip install "httpx[socks]"`'
        )
    if via is not None and isinstance(error, httpx.ProxyError | httpx.ConnectError):
        name, proxy = via
        return (
            f"cannot reach Ollama at {url} through the proxy in {name}={mask_credentials(proxy)} "
            f"({text}); add {_host(url)} to NO_PROXY or set RAG_OLLAMA_BYPASS_PROXY=1"
        )
    if isinstance(error, httpx.ConnectError):
        return (
            f"Ollama is not running at {url}: {START_HINT}, "
            "or set RAG_LLM_PROVIDER=llamacpp to answer with the embedded model"
        )
    if isinstance(error, httpx.TimeoutException):
        return _timeout_problem(url, None, "RAG_OLLAMA_REQUEST_TIMEOUT")
    return f"Ollama at {url} failed: {text}"


def describe_response_error(url: str, model: str, status_code: int, message: str) -> str:
    """One line for an error status that the Ollama client raised (``ResponseError``)."""
    via = proxy_for(url)
    if via is not None and status_code in PROXY_STATUSES:
        return _proxy_answered(url, status_code, via)
    if status_code == 404 and "not found" in message.lower():
        return f"Ollama at {url} has no model {model!r}: run `ollama pull {model}`"
    return f"Ollama at {url} failed with HTTP {status_code}: {message}"


def explain_client_error(error: BaseException, url: str, model: str) -> str | None:
    """A one-line explanation for errors of the Ollama client or httpx, else None."""
    module = type(error).__module__.split(".")[0]
    if module == "ollama" and hasattr(error, "status_code"):
        status_code = int(getattr(error, "status_code", 0) or 0)
        message = str(getattr(error, "error", error))
        if status_code <= 0:
            return describe_transport_error(url, error)
        return describe_response_error(url, model, status_code, message)
    if module in ("httpx", "httpcore") or isinstance(error, ConnectionError | ImportError):
        return describe_transport_error(url, error)
    return None


def _response_problem(url: str, response: Any) -> str | None:
    via = proxy_for(url)
    if response.status_code != 200:
        if via is not None and response.status_code in PROXY_STATUSES:
            return _proxy_answered(url, response.status_code, via)
        return f"Ollama at {url} failed: HTTP {response.status_code} from /api/tags"
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict) or "models" not in data:
        if via is not None:
            return _proxy_answered(url, response.status_code, via)
        return f"something at {url} answered, but not like Ollama (no model list at /api/tags)"
    return None


def _proxy_answered(url: str, status_code: int, via: tuple[str, str]) -> str:
    name, proxy = via
    return (
        f"a proxy answered instead of Ollama at {url} (HTTP {status_code} from "
        f"{name}={mask_credentials(proxy)}): add {_host(url)} to NO_PROXY, "
        "or set RAG_OLLAMA_BYPASS_PROXY=1"
    )


def _timeout_problem(url: str, timeout: float | None, setting: str = "RAG_OLLAMA_TIMEOUT") -> str:
    within = f" within {timeout:g} s" if timeout else " in time"
    via = proxy_for(url)
    hint = f" (requests go through {via[0]}: check that proxy)" if via else ""
    return (
        f"Ollama at {url} did not answer{within}{hint}; it may be loading a model: "
        f"try again, or raise {setting}"
    )


def _host(url: str) -> str:
    from app.models.network import host_of

    return host_of(url)
