"""Settings: one frozen dataclass built once from flags > environment > .env > defaults."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from app.config.paths import DEFAULT_COLLECTION, validate_collection_name
from app.errors import ConfigError
from app.models.network import normalize_ollama_host
from retrievers.index_types import (
    AUTO,
    AUTO_FLAT_BELOW,
    AUTO_HNSW_BELOW,
    INDEX_TYPES,
    VECTOR_DTYPES,
)
from retrievers.modes import FUSIONS, MODES, Fusion, Mode

DEFAULT_HF_EMBED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_OLLAMA_EMBED_MODEL = "nomic-embed-text"
DEFAULT_LLAMACPP_MODEL = "SmolLM2-135M-Instruct"
DEFAULT_LLM_TEMPERATURE = 0.2
"""Temperature of answer models other than small ones while RAG_LLM_TEMPERATURE is auto."""
DEFAULT_OLLAMA_LLM_MODEL = "llama3.2"

EMBED_PROVIDERS = ("huggingface", "ollama")
EMBED_BACKENDS = ("torch", "onnx", "onnx-int8")
LLM_PROVIDERS = ("auto", "llamacpp", "ollama", "none")
LLM_PROMPTS = ("auto", "small", "full")
ANSWER_MODES = ("auto", "extract", "generate")
STORES = ("local", "postgres")
SECRET_FIELDS = frozenset({"postgres_url", "postgres_read_url"})
"""Settings that may hold a password: shown masked (``rag doctor``), never in a repr."""


@dataclass(frozen=True)
class SettingSpec:
    """One setting: its field, environment variable, default and how to parse it."""

    field: str
    env: str
    default: str
    help: str
    parse: Callable[[str, str], Any]


def _text(env: str, raw: str) -> str:
    return raw.strip()


def _path(env: str, raw: str) -> Path:
    if not raw.strip():
        raise ConfigError(f"{env} must be a folder path, got an empty value")
    return Path(raw.strip()).expanduser().resolve()


def _optional_path(env: str, raw: str) -> Path | None:
    return _path(env, raw) if raw.strip() else None


def _collection(env: str, raw: str) -> str:
    return validate_collection_name(raw.strip(), env)


def _choice(*choices: str) -> Callable[[str, str], str]:
    def parse(env: str, raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ConfigError(f"{env} must be one of {', '.join(choices)}; got {raw!r}")
        return value

    return parse


def _integer(low: int, high: int) -> Callable[[str, str], int]:
    def parse(env: str, raw: str) -> int:
        try:
            value = int(str(raw).strip())
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise ConfigError(f"{env} must be a whole number from {low} to {high}; got {raw!r}")
        return value

    return parse


def _number(low: float, high: float) -> Callable[[str, str], float]:
    def parse(env: str, raw: str) -> float:
        try:
            value = float(str(raw).strip())
        except ValueError:
            value = float("nan")
        if not low <= value <= high:
            raise ConfigError(f"{env} must be a number from {low} to {high}; got {raw!r}")
        return value

    return parse


def _number_or_auto(low: float, high: float) -> Callable[[str, str], float | None]:
    """A number in range, or ``None`` for "auto" (the code picks)."""
    number = _number(low, high)

    def parse(env: str, raw: str) -> float | None:
        if raw.strip().lower() == "auto":
            return None
        try:
            return number(env, raw)
        except ConfigError:
            raise ConfigError(
                f"{env} must be auto or a number from {low} to {high}; got {raw!r}"
            ) from None

    return parse


def _flag(env: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{env} must be one of 1, 0, true, false, yes, no; got {raw!r}")


def _duration(env: str, raw: str) -> int:
    """Seconds from ``300``, ``30s``, ``5m``, ``1h`` or ``-1`` (Ollama's keep_alive forms)."""
    match = re.fullmatch(r"\s*(-?\d+)\s*([smh]?)\s*", raw)
    if match is None:
        raise ConfigError(
            f"{env} must be seconds or a duration like 30s, 5m, 1h or -1; got {raw!r}"
        )
    return int(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def _ollama_host(env: str, raw: str) -> str:
    try:
        return normalize_ollama_host(raw)
    except ValueError as error:
        raise ConfigError(
            f"{env} must be host, host:port or an http(s) URL such as "
            f"http://127.0.0.1:11434; got {raw!r}"
        ) from error


SPECS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "index_dir",
        "RAG_INDEX_DIR",
        "",
        "One exact folder for the index, whatever the collection (relative paths start at the "
        "working folder). Empty: the collection's folder in ragkit's data folder "
        "($XDG_DATA_HOME/ragkit/collections/NAME, else ~/.local/share/ragkit/collections/NAME), "
        "or ./data/index for the default collection when the working folder has one.",
        _optional_path,
    ),
    SettingSpec(
        "collection",
        "RAG_COLLECTION",
        DEFAULT_COLLECTION,
        "Which collection (a named, separate index) commands use: letters, digits, '_', '.' "
        "and '-'. Every store keeps its collections apart.",
        _collection,
    ),
    SettingSpec(
        "embed_provider",
        "RAG_EMBED_PROVIDER",
        "huggingface",
        "Embedding provider: huggingface (embedded, no server) or ollama.",
        _choice(*EMBED_PROVIDERS),
    ),
    SettingSpec(
        "embed_model",
        "RAG_EMBED_MODEL",
        "",
        "Embedding model: hub id or local folder (huggingface), or Ollama model name. "
        f"Empty: {DEFAULT_HF_EMBED_MODEL} (shipped in a Python package) "
        f"or {DEFAULT_OLLAMA_EMBED_MODEL}.",
        _text,
    ),
    SettingSpec(
        "embed_backend",
        "RAG_EMBED_BACKEND",
        "onnx-int8",
        "How the huggingface provider runs the embedding model: torch (float32), onnx "
        "(float32, ONNX Runtime) or onnx-int8 (dynamically quantised for this CPU). ONNX models "
        "are exported once into the user cache folder.",
        _choice(*EMBED_BACKENDS),
    ),
    SettingSpec(
        "llm_provider",
        "RAG_LLM_PROVIDER",
        "auto",
        "Answer model: auto (Ollama when it runs and has the model, else the largest chat "
        "GGUF already on this machine that fits in free memory, else embedded), llamacpp "
        "(embedded), ollama, or none (retrieval only).",
        _choice(*LLM_PROVIDERS),
    ),
    SettingSpec(
        "llm_model",
        "RAG_LLM_MODEL",
        "",
        "Answer model: path to a .gguf file (llamacpp) or Ollama model name. "
        f"Empty: the embedded {DEFAULT_LLAMACPP_MODEL}, or {DEFAULT_OLLAMA_LLM_MODEL} "
        "on Ollama.",
        _text,
    ),
    SettingSpec(
        "llm_discover",
        "RAG_LLM_DISCOVER",
        "1",
        "1 = with RAG_LLM_PROVIDER=auto and no usable Ollama, look for chat GGUF files "
        "already on this machine (Ollama's model store, LM Studio, the Hugging Face cache, "
        "ragkit's models folder); 0 = go straight to the embedded model.",
        _flag,
    ),
    SettingSpec(
        "llm_ctx",
        "RAG_LLM_CTX",
        "4096",
        "Context window of the answer model, in tokens.",
        _integer(512, 131072),
    ),
    SettingSpec(
        "llm_max_tokens",
        "RAG_LLM_MAX_TOKENS",
        "256",
        "Longest answer, in tokens.",
        _integer(16, 8192),
    ),
    SettingSpec(
        "llm_temperature",
        "RAG_LLM_TEMPERATURE",
        "auto",
        "Sampling temperature of the answer model (auto = 0, greedy, for the small-model "
        f"prompt and {DEFAULT_LLM_TEMPERATURE} otherwise).",
        _number_or_auto(0.0, 2.0),
    ),
    SettingSpec(
        "llm_threads",
        "RAG_LLM_THREADS",
        "0",
        "CPU threads of a llama.cpp answer model (0 = llama.cpp's choice).",
        _integer(0, 1024),
    ),
    SettingSpec(
        "llm_gpu_layers",
        "RAG_LLM_GPU_LAYERS",
        "0",
        "Layers of a llama.cpp answer model to put on the GPU (0 = CPU only, -1 = all; needs "
        "a llama-cpp-python build with GPU support).",
        _integer(-1, 10000),
    ),
    SettingSpec(
        "llm_prompt",
        "RAG_LLM_PROMPT",
        "auto",
        "Answer prompt: small (short answers from the best sentences of each chunk, for tiny "
        "models), full (whole chunks, cited), or auto (small for the embedded model and GGUF "
        "files under 500 MB).",
        _choice(*LLM_PROMPTS),
    ),
    SettingSpec(
        "answer_mode",
        "RAG_ANSWER_MODE",
        "auto",
        "What answer is shown first: extract (the sentence of the sources that answers the "
        "question, quoted, with the short answer marked in it), generate (the answer model's "
        "own text, each sentence checked against the sources), or auto (extract for the "
        "embedded model and with RAG_LLM_PROMPT=small, generate otherwise).",
        _choice(*ANSWER_MODES),
    ),
    SettingSpec(
        "chunk_size",
        "RAG_CHUNK_SIZE",
        "1000",
        "Largest chunk, in characters.",
        _integer(100, 20000),
    ),
    SettingSpec(
        "chunk_overlap",
        "RAG_CHUNK_OVERLAP",
        "100",
        "Characters shared by neighbouring chunks (less than RAG_CHUNK_SIZE).",
        _integer(0, 10000),
    ),
    SettingSpec(
        "chunk_context",
        "RAG_CHUNK_CONTEXT",
        "title",
        "What to put before each chunk for embedding and BM25: title (the document title), "
        "section (the title, then the chunk's section path) or none.",
        _choice("title", "section", "none"),
    ),
    SettingSpec(
        "retrieval_mode",
        "RAG_RETRIEVAL_MODE",
        "hybrid",
        "Retrieval: hybrid (dense + BM25, fused), dense (embeddings only) or bm25 (words only).",
        _choice(*MODES),
    ),
    SettingSpec(
        "fusion",
        "RAG_FUSION",
        "score",
        "How hybrid mode merges the rankings: score (weighted, max-normalised scores) or rrf "
        "(reciprocal rank fusion).",
        _choice(*FUSIONS),
    ),
    SettingSpec(
        "rrf_k",
        "RAG_RRF_K",
        "60",
        "Reciprocal rank fusion constant: higher values flatten the ranks' weights.",
        _integer(1, 1000),
    ),
    SettingSpec(
        "rerank_model",
        "RAG_RERANK_MODEL",
        "",
        "Optional cross-encoder that reorders the top 20 candidates: hub id or local folder "
        "(e.g. BAAI/bge-reranker-base, cross-encoder/ms-marco-MiniLM-L-6-v2). Empty: none.",
        _text,
    ),
    SettingSpec(
        "top_k", "RAG_TOP_K", "4", "How many chunks to retrieve for a question.", _integer(1, 100)
    ),
    SettingSpec(
        "min_score",
        "RAG_MIN_SCORE",
        "0.25",
        "Cosine similarity below which a chunk counts as unrelated to the question "
        "(calibrated with benchmarks/relevance.py).",
        _number(-1.0, 1.0),
    ),
    SettingSpec(
        "index_type",
        "RAG_INDEX_TYPE",
        AUTO,
        "Vector index: flat (exact), hnsw (graph, fast), ivf-sq8 (clustered, 8-bit compressed, "
        f"for millions of chunks) or auto (flat below {AUTO_FLAT_BELOW:,} chunks, hnsw below "
        f"{AUTO_HNSW_BELOW:,}, else ivf-sq8). A change rebuilds the index from the stored "
        "vectors, without embedding again.",
        _choice(AUTO, *INDEX_TYPES),
    ),
    SettingSpec(
        "vector_dtype",
        "RAG_VECTOR_DTYPE",
        "float32",
        "How the index keeps its vectors on disk: float32 or float16 (half the size, "
        "cosine similarities within 0.001).",
        _choice(*VECTOR_DTYPES),
    ),
    SettingSpec(
        "store",
        "RAG_STORE",
        "local",
        "Where the index lives: local (snapshot files in RAG_INDEX_DIR) or postgres "
        "(PostgreSQL with pgvector at RAG_POSTGRES_URL, for teams and large corpora).",
        _choice(*STORES),
    ),
    SettingSpec(
        "postgres_url",
        "RAG_POSTGRES_URL",
        "",
        "postgresql:// URL of the database with RAG_STORE=postgres; the password may come "
        "from the URL, PGPASSWORD or ~/.pgpass, and is never printed.",
        _text,
    ),
    SettingSpec(
        "postgres_read_url",
        "RAG_POSTGRES_READ_URL",
        "",
        "postgresql:// URL of a read replica for searches (empty: the primary); when it is "
        "down, searches fall back to the primary with one warning.",
        _text,
    ),
    SettingSpec(
        "max_file_mb",
        "RAG_MAX_FILE_MB",
        "50",
        "Files larger than this many megabytes are skipped.",
        _integer(1, 100000),
    ),
    SettingSpec(
        "ocr",
        "RAG_OCR",
        "auto",
        "OCR for scanned PDF pages and images (.png .jpg .tiff .webp), with rapidocr-onnxruntime "
        "(ragkit[ocr]): auto (only pages without a text layer), off, or force (every PDF page).",
        _choice("auto", "off", "force"),
    ),
    SettingSpec(
        "serve_token",
        "RAG_SERVE_TOKEN",
        "",
        "rag serve: bearer token every API request must carry; needed to bind an address "
        "other than 127.0.0.1. Empty: none (loopback only).",
        _text,
    ),
    SettingSpec(
        "serve_roots",
        "RAG_SERVE_ROOTS",
        "",
        "rag serve: folders (separated by the path separator, : or ;) under which POST "
        "/api/ingest may index a path. Empty: uploads only.",
        _text,
    ),
    SettingSpec(
        "serve_max_upload_mb",
        "RAG_SERVE_MAX_UPLOAD_MB",
        "200",
        "rag serve: largest request body in megabytes (each uploaded file is also held to "
        "RAG_MAX_FILE_MB).",
        _integer(1, 100000),
    ),
    SettingSpec(
        "serve_max_files",
        "RAG_SERVE_MAX_FILES",
        "100",
        "rag serve: most files one upload may carry.",
        _integer(1, 100000),
    ),
    SettingSpec(
        "serve_queue",
        "RAG_SERVE_QUEUE",
        "8",
        "rag serve: answers that may wait for the answer model; more get 503 with Retry-After.",
        _integer(0, 10000),
    ),
    SettingSpec(
        "ollama_host",
        "OLLAMA_HOST",
        "http://127.0.0.1:11434",
        "Ollama service: host, host:port or URL, as Ollama itself accepts.",
        _ollama_host,
    ),
    SettingSpec(
        "ollama_timeout",
        "RAG_OLLAMA_TIMEOUT",
        "1.0",
        "Seconds to wait for Ollama to answer a probe before using the embedded model.",
        _number(0.1, 120.0),
    ),
    SettingSpec(
        "ollama_request_timeout",
        "RAG_OLLAMA_REQUEST_TIMEOUT",
        "300",
        "Seconds an Ollama answer or embedding request may take (model loading included).",
        _number(1.0, 3600.0),
    ),
    SettingSpec(
        "ollama_keep_alive",
        "RAG_OLLAMA_KEEP_ALIVE",
        "5m",
        "How long Ollama keeps the model loaded after a request (30s, 5m, 1h; -1 = always).",
        _duration,
    ),
    SettingSpec(
        "ollama_bypass_proxy",
        "RAG_OLLAMA_BYPASS_PROXY",
        "0",
        "1 = reach a remote Ollama host directly too (a local one always is).",
        _flag,
    ),
)

SPEC_BY_FIELD = {spec.field: spec for spec in SPECS}


@dataclass(frozen=True)
class Settings:
    """Every setting in force; build it with ``load_settings``."""

    index_dir: Path | None
    collection: str
    embed_provider: str
    embed_model: str
    embed_backend: str
    llm_provider: str
    llm_model: str
    llm_discover: bool
    llm_ctx: int
    llm_max_tokens: int
    llm_temperature: float | None
    llm_threads: int
    llm_gpu_layers: int
    llm_prompt: str
    answer_mode: str
    chunk_size: int
    chunk_overlap: int
    chunk_context: str
    retrieval_mode: Mode
    fusion: Fusion
    rrf_k: int
    rerank_model: str
    top_k: int
    min_score: float
    index_type: str
    vector_dtype: str
    store: str
    postgres_url: str = field(repr=False)
    postgres_read_url: str = field(repr=False)
    max_file_mb: int
    ocr: str
    serve_token: str = field(repr=False)
    serve_roots: str
    serve_max_upload_mb: int
    serve_max_files: int
    serve_queue: int
    ollama_host: str
    ollama_timeout: float
    ollama_request_timeout: float
    ollama_keep_alive: int
    ollama_bypass_proxy: bool
    origins: tuple[tuple[str, str], ...] = field(default=(), compare=False, repr=False)

    @property
    def embedding_backend(self) -> str:
        """What computes the vectors: the RAG_EMBED_BACKEND for huggingface, else the provider."""
        return self.embed_backend if self.embed_provider == "huggingface" else self.embed_provider

    def origin(self, field_name: str) -> str:
        """Where a setting came from: flag, env, .env or default."""
        return dict(self.origins).get(field_name, "default")

    def replace(self, **overrides: Any) -> Settings:
        """A copy with some fields changed, validated like flags."""
        values = {spec.field: getattr(self, spec.field) for spec in SPECS}
        explicit = {key: value for key, value in overrides.items() if value is not None}
        unknown = set(explicit) - set(values)
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        # A None value ("auto") goes back as the spec's default, which is how it was given.
        defaults = {spec.field: spec.default for spec in SPECS}
        raw = {key: defaults[key] if value is None else str(value) for key, value in values.items()}
        raw.update({key: str(value) for key, value in explicit.items()})
        provider_changed = "embed_provider" in explicit and "embed_model" not in explicit
        if provider_changed and self.origin("embed_model") == "default":
            raw["embed_model"] = ""
        origins = dict(self.origins)
        origins.update({key: "flag" for key in explicit})
        return _build(raw, origins)


_exported_from_dotenv: set[str] = set()


@lru_cache(maxsize=8)
def read_dotenv(path: Path) -> dict[str, str]:
    """Read a .env file once per process (a missing file is empty)."""
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    return {key: value for key, value in dotenv_values(path).items() if value is not None}


def export_dotenv(values: Mapping[str, str]) -> None:
    """Put .env values that the environment lacks into ``os.environ`` (proxy and HF variables)."""
    for key, value in values.items():
        if key not in os.environ:
            os.environ[key] = value
            _exported_from_dotenv.add(key)


def default_env_file(environ: Mapping[str, str]) -> Path:
    """The .env file to read: RAG_ENV_FILE, else .env in the working folder."""
    return Path(environ.get("RAG_ENV_FILE", ".env")).expanduser()


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    env_file: Path | None = None,
) -> Settings:
    """Build settings from flags (``overrides``), environment, .env and defaults."""
    if environ is None:
        dotenv = read_dotenv((env_file or default_env_file(os.environ)).resolve())
        export_dotenv(dotenv)
        real_env = {k: v for k, v in os.environ.items() if k not in _exported_from_dotenv}
        return resolve_settings(overrides or {}, real_env, dotenv)
    dotenv = read_dotenv((env_file or default_env_file(environ)).resolve())
    return resolve_settings(overrides or {}, environ, dotenv)


def resolve_settings(
    overrides: Mapping[str, Any], environ: Mapping[str, str], dotenv: Mapping[str, str]
) -> Settings:
    """Pure core of ``load_settings``: pick each value by precedence, then validate."""
    unknown = set(overrides) - set(SPEC_BY_FIELD)
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    raw: dict[str, str] = {}
    origins: dict[str, str] = {}
    for spec in SPECS:
        flag_value = overrides.get(spec.field)
        if flag_value is not None:
            raw[spec.field], origins[spec.field] = str(flag_value), "flag"
        elif environ.get(spec.env, "") != "":
            raw[spec.field], origins[spec.field] = environ[spec.env], "env"
        elif dotenv.get(spec.env, "") != "":
            raw[spec.field], origins[spec.field] = dotenv[spec.env], ".env"
        else:
            raw[spec.field], origins[spec.field] = spec.default, "default"
    return _build(raw, origins)


def _build(raw: Mapping[str, str], origins: Mapping[str, str]) -> Settings:
    values = {spec.field: spec.parse(spec.env, raw[spec.field]) for spec in SPECS}
    if values["chunk_overlap"] >= values["chunk_size"]:
        raise ConfigError(
            f"RAG_CHUNK_OVERLAP ({values['chunk_overlap']}) must be less than "
            f"RAG_CHUNK_SIZE ({values['chunk_size']})"
        )
    if not values["embed_model"]:
        values["embed_model"] = (
            DEFAULT_HF_EMBED_MODEL
            if values["embed_provider"] == "huggingface"
            else DEFAULT_OLLAMA_EMBED_MODEL
        )
    return Settings(**values, origins=tuple(sorted(origins.items())))
