from pathlib import Path

import pytest

from app.config.docs import render_env_example, render_settings_table
from app.config.settings import (
    DEFAULT_HF_EMBED_MODEL,
    DEFAULT_OLLAMA_EMBED_MODEL,
    SPECS,
    load_settings,
    resolve_settings,
)
from app.errors import ConfigError
from app.models.network import normalize_ollama_host
from retrievers.modes import FUSIONS, MODES


def test_defaults_are_the_embedded_models(isolated_environment: Path) -> None:
    settings = resolve_settings({}, {}, {})
    assert settings.embed_provider == "huggingface"
    assert settings.embed_model == DEFAULT_HF_EMBED_MODEL
    assert settings.llm_provider == "auto"
    assert settings.index_dir is None  # the collection's folder in the user data folder
    assert settings.collection == "default"
    assert settings.ollama_host == "http://127.0.0.1:11434"
    assert settings.origin("top_k") == "default"


def test_precedence_is_flag_then_environment_then_dotenv_then_default() -> None:
    dotenv = {"RAG_TOP_K": "7", "RAG_CHUNK_SIZE": "600", "RAG_CHUNK_OVERLAP": "50"}
    environ = {"RAG_TOP_K": "5", "RAG_CHUNK_SIZE": "700"}
    settings = resolve_settings({"top_k": 3}, environ, dotenv)
    assert settings.top_k == 3
    assert settings.chunk_size == 700
    assert settings.chunk_overlap == 50
    assert settings.min_score == 0.25
    assert [
        settings.origin(name) for name in ("top_k", "chunk_size", "chunk_overlap", "min_score")
    ] == [
        "flag",
        "env",
        ".env",
        "default",
    ]


def test_load_settings_reads_the_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / "settings.env"
    env_file.write_text("RAG_TOP_K=9\nRAG_LLM_PROVIDER=none\n", encoding="utf-8")
    settings = load_settings(environ={"RAG_LLM_PROVIDER": "llamacpp"}, env_file=env_file)
    assert settings.top_k == 9
    assert settings.llm_provider == "llamacpp"


def test_none_flags_do_not_override() -> None:
    settings = resolve_settings({"top_k": None}, {"RAG_TOP_K": "6"}, {})
    assert settings.top_k == 6


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("RAG_LLM_PROVIDER", "gpt", "RAG_LLM_PROVIDER must be one of auto, llamacpp, ollama, none"),
        ("RAG_EMBED_PROVIDER", "openai", "RAG_EMBED_PROVIDER must be one of huggingface, ollama"),
        ("RAG_TOP_K", "many", "RAG_TOP_K must be a whole number from 1 to 100"),
        ("RAG_LLM_GPU_LAYERS", "-2", "RAG_LLM_GPU_LAYERS must be a whole number from -1 to"),
        ("RAG_LLM_PROMPT", "tiny", "RAG_LLM_PROMPT must be one of auto, small, full"),
        ("RAG_TOP_K", "0", "RAG_TOP_K must be a whole number from 1 to 100"),
        ("RAG_MIN_SCORE", "high", "RAG_MIN_SCORE must be a number from -1.0 to 1.0"),
        ("OLLAMA_HOST", "ftp://x", "OLLAMA_HOST must be host, host:port or an http(s) URL"),
        ("RAG_RETRIEVAL_MODE", "fuzzy", "RAG_RETRIEVAL_MODE must be one of hybrid, dense, bm25"),
        ("RAG_FUSION", "sum", "RAG_FUSION must be one of score, rrf"),
    ],
)
def test_bad_values_name_the_variable_and_what_is_accepted(
    variable: str, value: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_settings({}, {variable: value}, {})
    assert expected in str(caught.value)
    assert repr(value) in str(caught.value)


def test_every_retrieval_mode_and_fusion_is_a_setting() -> None:
    assert (MODES, FUSIONS) == (("hybrid", "dense", "bm25"), ("score", "rrf"))
    for mode in MODES:
        assert resolve_settings({}, {"RAG_RETRIEVAL_MODE": mode.upper()}, {}).retrieval_mode == mode
    for fusion in FUSIONS:
        assert resolve_settings({"fusion": fusion}, {}, {}).fusion == fusion


def test_overlap_must_be_smaller_than_chunk_size() -> None:
    expected = r"RAG_CHUNK_OVERLAP \(200\) must be less than RAG_CHUNK_SIZE"
    with pytest.raises(ConfigError, match=expected):
        resolve_settings({}, {"RAG_CHUNK_SIZE": "200", "RAG_CHUNK_OVERLAP": "200"}, {})


def test_unknown_override_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown setting"):
        resolve_settings({"colour": "blue"}, {}, {})


def test_replace_validates_and_switches_the_default_embedding_model() -> None:
    settings = resolve_settings({}, {}, {})
    switched = settings.replace(embed_provider="ollama")
    assert switched.embed_model == DEFAULT_OLLAMA_EMBED_MODEL
    assert switched.origin("embed_provider") == "flag"
    with pytest.raises(ConfigError):
        settings.replace(top_k="lots")


def test_settings_are_frozen() -> None:
    settings = resolve_settings({}, {}, {})
    with pytest.raises(AttributeError):
        settings.top_k = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:11434", "http://127.0.0.1:11434"),
        ("http://localhost:11434", "http://localhost:11434"),
        ("localhost", "http://localhost:11434"),
        ("0.0.0.0", "http://127.0.0.1:11434"),
        ("[::1]:11434", "http://[::1]:11434"),
        ("https://ollama.example.org", "https://ollama.example.org:443"),
        ("http://gpu-box:8080/", "http://gpu-box:8080"),
    ],
)
def test_ollama_host_forms(value: str, expected: str) -> None:
    assert normalize_ollama_host(value) == expected


def test_env_example_and_configuration_table_match_the_settings() -> None:
    root = Path(__file__).resolve().parents[2]
    example = (root / ".env.example").read_text(encoding="utf-8")
    assert example == render_env_example(), "run `python -m app.config.docs`"
    for spec in SPECS:
        assert f"# {spec.env}={spec.default}\n" in example
    configuration = (root / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert render_settings_table() in configuration, (
        "paste `python -m app.config.docs` into docs/configuration.md"
    )
