"""Where uploaded files go and which paths an ingest may read: names sanitised, roots enforced."""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from app.errors import ForbiddenRequestError, InputPathError, UsageError

MAX_NAME_CHARS = 120
_UNSAFE = re.compile(r"[^\w.\- ()\[\]+,@]", re.UNICODE)


def safe_name(filename: str) -> str:
    """A plain file name for an upload: no folders, no control or shell characters.

    ``../../etc/passwd`` becomes ``passwd``; a name with nothing left is a ``UsageError``.
    """
    base = re.split(r"[\\/]", unicodedata.normalize("NFC", filename or ""))[-1]
    base = "".join(char for char in base if char.isprintable())
    base = _UNSAFE.sub("_", base).strip(" .")
    if len(base) > MAX_NAME_CHARS:
        stem, dot, suffix = base.rpartition(".")
        keep = MAX_NAME_CHARS - len(suffix) - 1
        base = f"{stem[:keep]}.{suffix}" if dot and len(suffix) <= 10 else base[:MAX_NAME_CHARS]
    if not base or base.startswith("."):
        raise UsageError(f"the upload name {filename[:80]!r} has no usable file name")
    return base


def parse_roots(value: str) -> tuple[Path, ...]:
    """RAG_SERVE_ROOTS as folders (split on the path separator, and on ; everywhere)."""
    parts = [part for chunk in value.split(";") for part in chunk.split(os.pathsep)]
    return tuple(Path(part.strip()).expanduser().resolve() for part in parts if part.strip())


def confined_path(requested: str, roots: Sequence[Path]) -> Path:
    """The real path of ``requested`` if it lies under one of ``roots``, else a refusal.

    A relative path is taken from the first root; symlinks are resolved before the check,
    so ``../`` and links that leave the roots are refused (403) before anything is read.
    """
    if not roots:
        raise ForbiddenRequestError(
            "this server indexes uploads only: start it with RAG_SERVE_ROOTS=FOLDER to allow paths"
        )
    if "\x00" in requested:
        raise UsageError("the path contains a NUL character")
    given = Path(requested).expanduser()
    candidate = (given if given.is_absolute() else roots[0] / given).resolve()
    if not any(candidate.is_relative_to(root) for root in roots):
        raise ForbiddenRequestError(f"{requested} is outside the folders this server may index")
    if not candidate.exists():
        raise InputPathError(f"{requested} does not exist")
    return candidate
