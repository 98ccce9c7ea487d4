"""``rag doctor``: a checklist of everything answering depends on.

It imports no torch, sentence-transformers or faiss: weights are checked as files on disk.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.config.settings import SECRET_FIELDS, SPECS, Settings
from app.errors import RagError
from app.models.embeddings import resolve_embedding_model
from app.models.llms import choose_llm, gguf_path
from app.models.network import (
    bypasses_proxy,
    host_of,
    is_loopback_url,
    mask_credentials,
    proxy_settings,
)
from app.models.ollama import OllamaStatus, prepare_ollama, probe
from app.retrieval import shown_url

if TYPE_CHECKING:
    from retrievers.store import IndexStore

PACKAGES = (
    "langchain-core",
    "langchain-ollama",
    "langchain-huggingface",
    "faiss-cpu",
    "sentence-transformers",
    "llama-cpp-python",
)


@dataclass(frozen=True)
class Check:
    """One line of the checklist; ``fail`` means answering will not work."""

    name: str
    status: str
    detail: str


def run_checks(settings: Settings, store: IndexStore) -> list[Check]:
    """Every check, in the order they are shown."""
    checks = [_versions(), *_settings_rows(settings), *_proxy_rows(settings)]
    ollama_needed = "ollama" in (settings.llm_provider, settings.embed_provider)
    status = _probe_ollama(settings)
    checks.append(_ollama_row(status, ollama_needed))
    checks.append(_llm_row(settings, status))
    checks.append(_embedding_row(settings, status))
    checks.append(_hub_row())
    checks.extend(_reader_rows(settings))
    checks.append(_index_row(settings, store))
    return checks


def _reader_rows(settings: Settings) -> list[Check]:
    """Which OCR engine reads scanned pages, and whether the Office readers are installed."""
    from app.ingestion.formats.model import OFFICE_EXTRA
    from app.ingestion.formats.ocr import ocr_engine, ocr_hint

    engine = ocr_engine()
    if settings.ocr == "off":
        ocr = Check("ocr", "info", f"off (RAG_OCR=off); engine: {engine or 'none'}")
    elif engine is None:
        ocr = Check(
            "ocr", "warn", f"no OCR engine: scanned pages and images are skipped ({ocr_hint()})"
        )
    else:
        version = importlib.metadata.version(engine)
        ocr = Check(
            "ocr", "ok", f"{engine} {version} (RAG_OCR={settings.ocr}), models in its wheel"
        )
    office = [
        m for m in ("docx", "pptx", "openpyxl", "striprtf") if not importlib.util.find_spec(m)
    ]
    if office:
        detail = f"missing {', '.join(office)}: Word/PowerPoint/Excel/RTF files are skipped "
        return [ocr, Check("office formats", "warn", detail + f'(pip install "{OFFICE_EXTRA}")')]
    return [ocr, Check("office formats", "ok", "python-docx, python-pptx, openpyxl, striprtf")]


def exit_code(checks: list[Check]) -> int:
    """0 when answering will work, 1 when a check failed."""
    return 1 if any(check.status == "fail" for check in checks) else 0


def render_table(checks: list[Check]) -> str:
    """The checklist as aligned text, one check a line."""
    width = max(len(check.name) for check in checks)
    lines = [f"{check.name:<{width}}  {check.status:<4}  {check.detail}" for check in checks]
    verdict = "answering will work" if exit_code(checks) == 0 else "something blocks answering"
    return "\n".join([*lines, "", f"doctor: {verdict}"])


def to_json(checks: list[Check]) -> dict[str, Any]:
    """The checklist as plain data."""
    return {"ok": exit_code(checks) == 0, "checks": [asdict(check) for check in checks]}


def _versions() -> Check:
    found = []
    for package in PACKAGES:
        try:
            found.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{package} missing")
    ragkit = importlib.metadata.version("ragkit")
    detail = f"ragkit {ragkit}, Python {platform.python_version()}; " + ", ".join(found)
    return Check("versions", "fail" if "missing" in detail else "ok", detail)


def _settings_rows(settings: Settings) -> list[Check]:
    rows = []
    for spec in SPECS:
        value = getattr(settings, spec.field)
        if spec.field in SECRET_FIELDS and value:
            value = shown_url(value)
        rows.append(
            Check(
                f"setting {spec.env}",
                "info",
                f"{'(empty)' if value in ('', None) else value} ({settings.origin(spec.field)})",
            )
        )
    return rows


def _proxy_rows(settings: Settings) -> list[Check]:
    rows = [
        Check(f"proxy {name}", "info", mask_credentials(value))
        for name, value in proxy_settings().items()
        if name.lower() != "no_proxy"
    ]
    host = host_of(settings.ollama_host)
    if bypasses_proxy(host, os.environ):
        rows.append(Check("no_proxy", "ok", f"NO_PROXY covers the Ollama host {host}"))
    elif is_loopback_url(settings.ollama_host) or settings.ollama_bypass_proxy:
        rows.append(
            Check("no_proxy", "ok", f"ragkit adds {host} to NO_PROXY before it calls Ollama")
        )
    elif rows:
        rows.append(
            Check(
                "no_proxy",
                "warn",
                f"requests to {host} go through the proxy; set RAG_OLLAMA_BYPASS_PROXY=1 "
                "or add it to NO_PROXY if that proxy cannot reach it",
            )
        )
    else:
        rows.append(Check("no_proxy", "ok", "no proxy variables are set"))
    return rows


def _probe_ollama(settings: Settings) -> OllamaStatus:
    try:
        prepare_ollama(settings)
    except RagError as error:
        return OllamaStatus(settings.ollama_host, False, problem=str(error))
    return probe(settings.ollama_host, max(settings.ollama_timeout, 1.0))


def _ollama_row(status: OllamaStatus, needed: bool) -> Check:
    if status.reachable:
        models = ", ".join(status.models) or "no models pulled"
        return Check("ollama", "ok", f"{status.url} version {status.version}; models: {models}")
    return Check("ollama", "fail" if needed else "info", status.problem or "not reachable")


def _llm_row(settings: Settings, status: OllamaStatus) -> Check:
    try:
        choice = choose_llm(settings, probe=lambda url, timeout: status)
    except RagError as error:
        return Check("answer model", "fail", str(error))
    match choice.provider:
        case "none":
            return Check("answer model", "ok", "none: retrieval only")
        case "ollama":
            if not status.reachable:
                return Check("answer model", "fail", f"{choice.label}: {status.problem}")
            if not status.has(choice.model):
                return Check(
                    "answer model",
                    "fail",
                    f"{choice.label}: not pulled; run `ollama pull {choice.model}`",
                )
            return Check("answer model", "ok", f"{choice.label} ({choice.reason})")
    try:
        path = gguf_path(choice.model)
    except RagError as error:
        return Check("answer model", "fail", str(error))
    if not path.is_file():
        return Check("answer model", "fail", f"{choice.label}: no GGUF file at {path}")
    if importlib.util.find_spec("llama_cpp") is None:
        return Check("answer model", "fail", "llama-cpp-python is not installed")
    return Check("answer model", "ok", f"{choice.label}, weights at {path} ({choice.reason})")


def _embedding_row(settings: Settings, status: OllamaStatus) -> Check:
    label = f"{settings.embed_provider}:{settings.embed_model}"
    if settings.embed_provider == "huggingface":
        label += f" ({settings.embed_backend})"
    if settings.embed_provider == "ollama":
        if status.reachable and status.has(settings.embed_model):
            return Check("embeddings", "ok", f"{label} on Ollama")
        problem = status.problem if not status.reachable else "not pulled"
        return Check(
            "embeddings", "fail", f"{label}: {problem}; `ollama pull {settings.embed_model}`"
        )
    location = resolve_embedding_model(settings.embed_model)
    if Path(location).expanduser().is_dir():
        return Check("embeddings", "ok", f"{label}, weights at {location}")
    cached = _hub_cache_folder(settings.embed_model)
    if cached is not None:
        return Check("embeddings", "ok", f"{label}, weights in the Hugging Face cache {cached}")
    if os.environ.get("HF_HUB_OFFLINE", "") in ("1", "true", "True", "YES", "yes"):
        return Check(
            "embeddings", "fail", f"{label}: not on disk and HF_HUB_OFFLINE=1 forbids a download"
        )
    return Check("embeddings", "warn", f"{label}: not on disk; it will be downloaded on first use")


def _hub_cache_folder(model: str) -> Path | None:
    if "/" not in model:
        return None
    home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
    hub = Path(os.environ.get("HF_HUB_CACHE", home / "hub"))
    folder = hub / ("models--" + model.replace("/", "--"))
    return folder if (folder / "snapshots").is_dir() else None


def _hub_row() -> Check:
    offline = os.environ.get("HF_HUB_OFFLINE", "") or "unset"
    endpoint = os.environ.get("HF_ENDPOINT", "") or "default hub"
    return Check("hugging face", "info", f"HF_HUB_OFFLINE={offline}, HF_ENDPOINT={endpoint}")


def _index_row(settings: Settings, store: IndexStore) -> Check:
    try:
        manifest = store.verify()
    except (RagError, OSError) as error:
        return Check("index", "fail", str(error))
    built = (manifest.embedding.provider, manifest.embedding.model)
    if built != (settings.embed_provider, settings.embed_model):
        return Check(
            "index",
            "fail",
            f"built with {manifest.embedding.label} but the settings ask for "
            f"{settings.embed_provider}:{settings.embed_model}; set RAG_EMBED_MODEL="
            f"{manifest.embedding.model} or run `rag ingest --rebuild PATH`",
        )
    return Check(
        "index",
        "ok",
        f"{store.location}: {len(manifest.files)} files, {manifest.chunk_count} chunks, "
        f"{manifest.embedding.label}, built {manifest.created_at}",
    )
