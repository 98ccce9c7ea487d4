"""ragkit: local-first question answering over your own documents.

Exports are loaded on first use so that ``rag --help`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.answers import Answer, AnswerStream, SearchOptions, Source
    from app.api import Rag
    from app.config.settings import Settings, load_settings
    from app.errors import ConfigError, ProviderError, RagError
    from app.ingestion.run import IngestOptions, IngestReport
    from app.retrieval.catalog import IndexStatus, index_status

__version__ = "0.1.0"

_EXPORTS = {
    "Answer": "app.answers",
    "Source": "app.answers",
    "AnswerStream": "app.answers",
    "SearchOptions": "app.answers",
    "IndexStatus": "app.retrieval.catalog",
    "Rag": "app.api",
    "index_status": "app.retrieval.catalog",
    "ConfigError": "app.errors",
    "ProviderError": "app.errors",
    "RagError": "app.errors",
    "IngestOptions": "app.ingestion.run",
    "IngestReport": "app.ingestion.run",
    "Settings": "app.config.settings",
    "load_settings": "app.config.settings",
}

__all__ = [
    "Answer",
    "AnswerStream",
    "ConfigError",
    "IndexStatus",
    "IngestOptions",
    "IngestReport",
    "ProviderError",
    "Rag",
    "RagError",
    "SearchOptions",
    "Settings",
    "Source",
    "__version__",
    "index_status",
    "load_settings",
]


def __getattr__(name: str) -> Any:
    """Import an exported name on first access."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'app' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
