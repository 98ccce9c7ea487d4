"""Where ragkit keeps a user's files: indexes (one folder a collection), models, chats.

The data folder is ``$XDG_DATA_HOME/ragkit`` when XDG_DATA_HOME is set, else the platform's
user data folder (``~/.local/share/ragkit`` on Linux, via ``platformdirs`` elsewhere).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

from app.errors import ConfigError
from retrievers.snapshots import CURRENT_FILE

DEFAULT_COLLECTION = "default"
LEGACY_INDEX_DIR = Path("data") / "index"
"""Where indexes used to live: in the working folder. Still found and used when present."""
_COLLECTION_NAME = re.compile(r"\w[\w.-]{0,63}")


def user_data_dir(environ: Mapping[str, str] | None = None, home: Path | None = None) -> Path:
    """Ragkit's folder in the user's data folder (a relative XDG_DATA_HOME is ignored)."""
    values = os.environ if environ is None else environ
    data_home = values.get("XDG_DATA_HOME", "")
    if os.path.isabs(data_home):
        return Path(data_home) / "ragkit"
    if sys.platform in ("darwin", "win32") and home is None:
        import platformdirs

        return Path(platformdirs.user_data_dir("ragkit", appauthor=False))
    return (home or Path.home()) / ".local/share" / "ragkit"


def models_dir(environ: Mapping[str, str] | None = None, home: Path | None = None) -> Path:
    """Where ``rag pull`` writes answer models, and discovery looks for them."""
    return user_data_dir(environ, home) / "models"


def chats_dir(environ: Mapping[str, str] | None = None, home: Path | None = None) -> Path:
    """Where ``rag chat`` keeps its conversations, one JSON-lines file each."""
    return user_data_dir(environ, home) / "chats"


def collections_dir(environ: Mapping[str, str] | None = None, home: Path | None = None) -> Path:
    """The folder that holds one index folder per collection."""
    return user_data_dir(environ, home) / "collections"


def validate_collection_name(name: str, source: str = "collection name") -> str:
    """``name`` if it can name a collection (a folder, or a Postgres key), else ConfigError.

    Letters, digits, ``_``, ``.`` and ``-``, at most 64, starting with a letter, digit or ``_``:
    no path separators, no ``..``, nothing hidden.
    """
    if not _COLLECTION_NAME.fullmatch(name):
        raise ConfigError(
            f"{source} {name!r} is not allowed: use letters, digits, '_', '.' and '-' "
            "(at most 64, starting with a letter or digit), e.g. work or thesis-2026"
        )
    return name


def legacy_index_dir(working_folder: Path | None = None) -> Path | None:
    """``./data/index`` when the working folder holds an index there (made by older ragkit)."""
    folder = (working_folder or Path.cwd()) / LEGACY_INDEX_DIR
    return folder if (folder / CURRENT_FILE).is_file() else None


def resolve_index_dir(
    index_dir: Path | None,
    collection: str,
    environ: Mapping[str, str] | None = None,
    working_folder: Path | None = None,
) -> tuple[Path, str | None]:
    """The index folder in force, and a one-line note when it is not the collection's own.

    RAG_INDEX_DIR wins; else the default collection keeps using ``./data/index`` if there is
    one; else the collection's folder in the data folder.
    """
    if index_dir is not None:
        ignored = (
            f"RAG_INDEX_DIR is set, so the index at {index_dir} is used and the collection "
            f"{collection!r} is not (unset RAG_INDEX_DIR to use collections)"
        )
        return index_dir, ignored if collection != DEFAULT_COLLECTION else None
    home = collections_dir(environ) / collection
    legacy = legacy_index_dir(working_folder) if collection == DEFAULT_COLLECTION else None
    if legacy is None:
        return home, None
    move = f"mv {LEGACY_INDEX_DIR} {home}"
    if home.exists():
        move = f"mv {LEGACY_INDEX_DIR} {home.parent}/NAME and use --collection NAME"
    note = (
        f"using the index in {LEGACY_INDEX_DIR} of the working folder; to keep it here, put "
        f"RAG_INDEX_DIR={LEGACY_INDEX_DIR} in .env; to share it from every folder, move it: "
        f"{move}"
    )
    return legacy.resolve(), note
