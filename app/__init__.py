"""ragkit: local-first question answering over your own documents.

Exports are loaded on first use so that ``rag --help`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.answers import Answer, Source
    from app.api import AnswerStream, IndexStatus, Rag, index_status
    from app.errors import ConfigError, ProviderError, RagError
    from app.ingest import IngestReport
    from app.settings import Settings, load_settings

__version__ = "0.1.0"

_EXPORTS = {
    "Answer": "app.answers",
    "Source": "app.answers",
    "AnswerStream": "app.api",
    "IndexStatus": "app.api",
    "Rag": "app.api",
    "index_status": "app.api",
    "ConfigError": "app.errors",
    "ProviderError": "app.errors",
    "RagError": "app.errors",
    "IngestReport": "app.ingest",
    "Settings": "app.settings",
    "load_settings": "app.settings",
}

__all__ = [
    "Answer",
    "AnswerStream",
    "ConfigError",
    "IndexStatus",
    "IngestReport",
    "ProviderError",
    "Rag",
    "RagError",
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
