"""A thin LangChain chat model over llama-cpp-python, for the embedded model or any chat GGUF.

The chat template comes from the GGUF file itself (llama.cpp reads it), so any chat GGUF
works. Models are loaded once per process and shared. llama.cpp keeps the evaluated prompt
in its context and reuses the longest common prefix, so the fixed system prompt (evaluated by
``warm_up``) is not evaluated again for later questions. Its RAM state cache (``set_cache``)
is not used: saving the state after each answer copied 114 MB (0.2 to 1.7 s for SmolLM2 on 2
shared cores), more than evaluating the system prompt costs.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from app.errors import ProviderError

_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}
_load_lock = threading.Lock()
DEFAULT_REPEAT_PENALTY = 1.1


@dataclass(frozen=True)
class LoadedModel:
    """A llama.cpp model in memory and the lock that serialises its use."""

    llama: Any
    lock: threading.Lock = field(default_factory=threading.Lock)


def load_model(model_path: str, n_ctx: int, n_threads: int | None, gpu_layers: int) -> LoadedModel:
    """The model of a GGUF file, loaded once per process (concurrent callers wait)."""
    with _load_lock:
        return _cached_model(model_path, n_ctx, n_threads, gpu_layers)


@lru_cache(maxsize=2)
def _cached_model(
    model_path: str, n_ctx: int, n_threads: int | None, gpu_layers: int
) -> LoadedModel:
    from llama_cpp import Llama

    try:
        with _plain_cpu_buffers(cpu_has_amx(_cpu_flags())):
            llama = Llama(
                model_path=model_path,
                n_ctx=n_ctx,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                n_gpu_layers=gpu_layers,
                verbose=False,
            )
    except ValueError as error:
        raise ProviderError(
            f"cannot load the answer model {model_path} ({error}): RAG_LLM_MODEL must be a "
            "chat model in GGUF format"
        ) from error
    if not _opened:
        atexit.register(_close_models)
    _opened.append(llama)
    return LoadedModel(llama)


_opened: list[Any] = []


def _close_models() -> None:
    """Free the models while llama_cpp still exists (its ``__del__`` fails at shutdown)."""
    while _opened:
        _opened.pop().close()


def _cpu_flags() -> str:
    try:
        return Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return ""


def cpu_has_amx(cpuinfo: str) -> bool:
    """Whether the CPU flags (``/proc/cpuinfo`` text) advertise Intel AMX."""
    return any(
        line.startswith("flags") and " amx_int8" in f" {line.split(':', 1)[-1]}"
        for line in cpuinfo.splitlines()
    )


@contextmanager
def _plain_cpu_buffers(enabled: bool) -> Iterator[None]:
    """Load weights into plain CPU buffers instead of llama.cpp's "extra" buffer types.

    llama.cpp repacks quantised weights for AMX when the CPU advertises it, and that path
    crashes the process (SIGSEGV on the first batch of more than one token) on AMX
    machines such as the virtual ones this project is tested on. llama-cpp-python does
    not expose ``use_extra_bufts``, so the default model parameters are adjusted while
    the model loads (under ``_load_lock``, held by ``load_model``).
    """
    if not enabled:
        yield
        return
    import llama_cpp.llama_cpp as native

    default_params = native.llama_model_default_params

    def without_extra_buffers() -> Any:
        params = default_params()
        params.use_extra_bufts = False
        return params

    native.llama_model_default_params = without_extra_buffers
    try:
        yield
    finally:
        native.llama_model_default_params = default_params


def to_chat_messages(messages: list[BaseMessage]) -> list[dict[str, str]]:
    """LangChain messages as the role/content dicts llama.cpp expects."""
    return [{"role": _ROLES.get(m.type, "user"), "content": m.text} for m in messages]


class LlamaCppChat(BaseChatModel):
    """Chat completions from a local GGUF file through llama.cpp."""

    model_path: str
    n_ctx: int = 4096
    n_threads: int | None = None
    gpu_layers: int = 0
    max_tokens: int = 256
    temperature: float = 0.2
    repeat_penalty: float = DEFAULT_REPEAT_PENALTY
    stop: list[str] | None = None

    @property
    def _llm_type(self) -> str:
        return "llamacpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "n_ctx": self.n_ctx}

    def loaded(self) -> LoadedModel:
        """The model in memory (loaded on first use, then shared by the process)."""
        return load_model(self.model_path, self.n_ctx, self.n_threads, self.gpu_layers)

    def warm_up(self, messages: list[BaseMessage]) -> None:
        """Load the model and evaluate ``messages`` (the fixed system prompt) into its context."""
        model = self.loaded()
        with model.lock:
            model.llama.create_chat_completion(
                messages=to_chat_messages(messages), max_tokens=1, temperature=0.0
            )

    def _completion_args(self, stop: list[str] | None, **kwargs: Any) -> dict[str, Any]:
        args: dict[str, Any] = {
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "repeat_penalty": self.repeat_penalty,
            "stop": stop or self.stop or [],
        }
        args.update(kwargs)
        return args

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        model = self.loaded()
        with model.lock:
            completion = model.llama.create_chat_completion(
                messages=to_chat_messages(messages), **self._completion_args(stop, **kwargs)
            )
        choice = completion["choices"][0]
        message = AIMessage(
            content=choice["message"].get("content") or "",
            response_metadata={"finish_reason": choice.get("finish_reason")},
            usage_metadata=_usage(completion.get("usage")),
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        model = self.loaded()
        with model.lock:
            pieces = model.llama.create_chat_completion(
                messages=to_chat_messages(messages),
                stream=True,
                **self._completion_args(stop, **kwargs),
            )
            for piece in pieces:
                text = piece["choices"][0].get("delta", {}).get("content")
                if not text:
                    continue
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                if run_manager is not None:
                    run_manager.on_llm_new_token(text, chunk=chunk)
                yield chunk


def _usage(usage: dict[str, int] | None) -> Any:
    if not usage:
        return None
    return {
        "input_tokens": usage.get("prompt_tokens", 0),
        "output_tokens": usage.get("completion_tokens", 0),
        "total_tokens": usage.get("total_tokens", 0),
    }
