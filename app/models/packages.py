"""Optional packages: find an installed one without importing it, import one with a hint."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

from app.errors import ProviderError


def package_folder(package: str) -> Path | None:
    """Folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def import_or_hint(module: str, attribute: str, package: str) -> Any:
    """``module.attribute``, or a ``ProviderError`` with the command that installs ``package``."""
    try:
        return getattr(importlib.import_module(module), attribute)
    except ImportError as error:
        raise ProviderError(
            f"{module} is not installed ({error}): run `pip install {package}`"
        ) from error
