"""Where ragkit keeps a user's files: ``$XDG_DATA_HOME/ragkit``, else ``~/.local/share/ragkit``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def user_data_dir(environ: Mapping[str, str] | None = None, home: Path | None = None) -> Path:
    """Ragkit's folder in the user's data folder (a relative XDG_DATA_HOME is ignored)."""
    values = os.environ if environ is None else environ
    data_home = values.get("XDG_DATA_HOME", "")
    base = Path(data_home) if os.path.isabs(data_home) else (home or Path.home()) / ".local/share"
    return base / "ragkit"


def models_dir(environ: Mapping[str, str] | None = None, home: Path | None = None) -> Path:
    """Where ``rag pull`` writes answer models, and discovery looks for them."""
    return user_data_dir(environ, home) / "models"
