"""Which prompt style and limits the answer model gets, and how they reach the model."""

from pathlib import Path

import pytest

from app.config.settings import DEFAULT_LLAMACPP_MODEL, DEFAULT_LLM_TEMPERATURE, load_settings
from app.errors import ConfigError, ProviderError
from app.models.llamacpp import LlamaCppChat
from app.models.llms import LlmChoice, build_llm, custom_gguf_file
from app.models.styles import SMALL_GGUF_BYTES, SMALL_MODEL_LIMITS, answer_style, is_small_model
from chains.prompts import QA_PROMPT, SMALL_QA_PROMPT

EMBEDDED = LlmChoice("llamacpp", DEFAULT_LLAMACPP_MODEL, "test")


def _gguf(folder: Path, size: int) -> Path:
    path = folder / f"model-{size}.gguf"
    with open(path, "wb") as handle:
        handle.truncate(size)  # sparse: the size counts, not the content
    return path


def test_auto_treats_the_embedded_model_and_small_files_as_small(tmp_path: Path) -> None:
    settings = load_settings()
    assert is_small_model(settings, EMBEDDED, custom_gguf_file(EMBEDDED))
    tiny = _gguf(tmp_path, 200 * 1024 * 1024)
    large = _gguf(tmp_path, SMALL_GGUF_BYTES + 1)
    assert is_small_model(settings, LlmChoice("llamacpp", str(tiny), "t"), tiny)
    assert not is_small_model(settings, LlmChoice("llamacpp", str(large), "t"), large)
    assert not is_small_model(settings, LlmChoice("ollama", "llama3.2", "t"), None)


@pytest.mark.parametrize(("prompt", "small"), [("small", True), ("full", False)])
def test_the_setting_overrides_the_guess(prompt: str, small: bool) -> None:
    settings = load_settings({"llm_prompt": prompt})
    assert is_small_model(settings, EMBEDDED, None) is small
    assert is_small_model(settings, LlmChoice("ollama", "qwen2.5:7b", "t"), None) is small


def test_styles_pick_prompt_and_context() -> None:
    small, full = answer_style(True), answer_style(False)
    assert small.prompt is SMALL_QA_PROMPT and small.sentences_per_chunk > 0 and small.small_model
    assert not small.source_labels and full.source_labels
    assert full.prompt is QA_PROMPT and full.sentences_per_chunk == 0 and not full.small_model


def test_limits_and_llama_settings_reach_the_embedded_model() -> None:
    settings = load_settings({"llm_threads": 3, "llm_gpu_layers": -1, "llm_max_tokens": 512})
    llm = build_llm(settings, EMBEDDED, SMALL_MODEL_LIMITS)
    assert isinstance(llm, LlamaCppChat)
    assert (llm.n_threads, llm.gpu_layers) == (3, -1)
    assert llm.max_tokens == SMALL_MODEL_LIMITS.max_tokens
    assert llm.repeat_penalty == SMALL_MODEL_LIMITS.repeat_penalty
    assert llm.stop == list(SMALL_MODEL_LIMITS.stop)
    plain = build_llm(load_settings(), EMBEDDED)
    assert isinstance(plain, LlamaCppChat)
    assert (plain.n_threads, plain.max_tokens, plain.stop) == (None, 256, None)


def test_a_missing_gguf_file_is_named() -> None:
    choice = LlmChoice("llamacpp", "/nowhere/model.gguf", "test")
    with pytest.raises(ProviderError, match=r"/nowhere/model\.gguf is not a GGUF file"):
        build_llm(load_settings(), choice)


def test_auto_temperature_is_greedy_for_small_models_and_a_setting_wins() -> None:
    auto = load_settings()
    assert auto.llm_temperature is None
    small = build_llm(auto, EMBEDDED, SMALL_MODEL_LIMITS)
    full = build_llm(auto, EMBEDDED)
    assert isinstance(small, LlamaCppChat) and isinstance(full, LlamaCppChat)
    assert (small.temperature, full.temperature) == (0.0, DEFAULT_LLM_TEMPERATURE)
    chosen = build_llm(load_settings({"llm_temperature": "0.7"}), EMBEDDED, SMALL_MODEL_LIMITS)
    assert isinstance(chosen, LlamaCppChat) and chosen.temperature == 0.7
    with pytest.raises(ConfigError, match="RAG_LLM_TEMPERATURE must be auto or a number"):
        load_settings({"llm_temperature": "warm"})
