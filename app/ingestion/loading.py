"""Find the files under the paths a user gives and load them as LangChain Documents.

Each Document carries ``source`` (path relative to the ingested root), ``page``,
``title``, ``path`` (absolute) and ``content_hash`` (SHA-256 of the file's bytes).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from langchain_core.documents import Document

from app.errors import InputPathError
from app.ingestion.formats import (
    Page,
    ParsedDocument,
    UnreadableDocument,
    parse_document,
    readable_suffixes,
)


@dataclass(frozen=True)
class SkippedFile:
    """A file that was not indexed and why (or, ``indexed``, read only in part and why)."""

    path: str
    reason: str
    indexed: bool = False

    def warning_line(self) -> str:
        """The one line a user reads: a file skipped, or read with a warning."""
        if self.indexed:
            return f"warning: {self.path}: {self.reason}"
        return f"warning: skipped {self.path}: {self.reason}"


@dataclass(frozen=True)
class LoadedFile:
    """A file that was read: its identity and its Documents (one per page)."""

    path: Path
    source: str
    content_hash: str
    size: int
    documents: tuple[Document, ...]
    warnings: tuple[str, ...] = ()


@dataclass
class LoadResult:
    """What loading found: files read, files skipped with reasons, unsupported files.

    ``warned`` holds the files that were read with a warning (macros ignored, rows capped).
    """

    files: list[LoadedFile] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    warned: list[SkippedFile] = field(default_factory=list)
    unsupported: int = 0


SkipHandler = Callable[[SkippedFile], None]
FileProgress = Callable[[int, int], None]
"""``(files read or skipped, files to read)``."""


def check_paths(paths: Iterable[Path]) -> list[Path]:
    """Absolute paths, or ``InputPathError`` naming the first that does not exist."""
    checked = []
    for path in paths:
        if not path.exists():
            raise InputPathError(f"path not found: {path}")
        checked.append(path.resolve())
    return checked


def iter_files(
    root: Path, follow_symlinks: bool = False, exclude: frozenset[Path] = frozenset()
) -> Iterator[tuple[Path, str | None]]:
    """Files under ``root`` in a stable order, each with a reason to skip it (or None).

    Hidden files and folders, and the folders in ``exclude`` (the index itself), are left
    out. Symlinks pointing outside ``root`` are not followed unless ``follow_symlinks``;
    loops and broken links are reported, never walked.
    """
    if not root.is_dir():
        yield root, None
        return
    real_root = root.resolve()
    visited: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            identity = folder.stat()
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError as error:
            yield folder, f"unreadable folder ({error.strerror or error})"
            continue
        if (identity.st_dev, identity.st_ino) in visited:
            yield folder, "symlink loop (folder already visited)"
            continue
        visited.add((identity.st_dev, identity.st_ino))
        subfolders = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            if entry.is_symlink():
                problem = _symlink_problem(path, real_root, follow_symlinks)
                if problem is not None:
                    yield path, problem
                    continue
            if _is_dir(entry):
                if path.resolve() not in exclude:
                    subfolders.append(path)
            else:
                yield path, None
        stack.extend(reversed(subfolders))


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _symlink_problem(path: Path, real_root: Path, follow_symlinks: bool) -> str | None:
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return "broken symlink or symlink loop"
    if not follow_symlinks and target != real_root and real_root not in target.parents:
        return "symlink to outside the ingested folder (use --follow-symlinks to index it)"
    return None


def display_path(path: Path | str) -> str:
    """A path as printable text: undecodable bytes and control characters escaped."""
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def source_name(path: Path, root: Path) -> str:
    """The path shown to users: relative to the ingested root (the name for a lone file)."""
    if not root.is_dir():
        return display_path(path.name)
    return display_path(path.relative_to(root).as_posix())


def load_paths(
    roots: Iterable[Path],
    max_file_bytes: int,
    on_skip: SkipHandler | None = None,
    *,
    follow_symlinks: bool = False,
    exclude: Iterable[Path] = (),
    ocr: str = "off",
    on_file: FileProgress | None = None,
) -> LoadResult:
    """Load every supported file under the roots (but not under ``exclude``); skip the rest.

    ``ocr`` is the RAG_OCR mode: images and scanned PDF pages are read only when it is on.
    ``on_file(done, total)`` is called after each file is read or skipped; ``total`` counts
    the files to read (files of other types in a folder are ignored, not counted).
    """
    result = LoadResult()
    excluded = frozenset(path.resolve() for path in exclude)
    suffixes = readable_suffixes(ocr)
    found: list[tuple[Path, Path, str | None]] = []
    for root in roots:
        for path, problem in iter_files(root, follow_symlinks, excluded):
            if problem is None and path.suffix.lower() not in suffixes:
                if path != root:
                    result.unsupported += 1
                    continue
                problem = f"unsupported file type {path.suffix or '(none)'}"
            found.append((root, path, problem))
    for done, (root, path, problem) in enumerate(found, 1):
        loaded = problem or _load_one(path, source_name(path, root), max_file_bytes, ocr)
        if isinstance(loaded, LoadedFile):
            result.files.append(loaded)
            if loaded.warnings:
                note = SkippedFile(display_path(path), "; ".join(loaded.warnings), True)
                result.warned.append(note)
                if on_skip is not None:
                    on_skip(note)
        else:
            _skip(result, on_skip, path, loaded)
        if on_file is not None:
            on_file(done, len(found))
    return result


def _skip(result: LoadResult, on_skip: SkipHandler | None, path: Path, reason: str) -> None:
    skipped = SkippedFile(display_path(path), reason)
    result.skipped.append(skipped)
    if on_skip is not None:
        on_skip(skipped)


def _load_one(path: Path, source: str, max_file_bytes: int, ocr: str) -> LoadedFile | str:
    """Read one file; return the reason as a string when it cannot be used."""
    try:
        if not path.is_file():
            return "not a regular file"
        size = path.stat().st_size
        if size > max_file_bytes:
            return f"larger than {max_file_bytes // (1024 * 1024)} MB (RAG_MAX_FILE_MB)"
        data = path.read_bytes()
    except OSError as error:
        return f"unreadable ({error.strerror or error})"
    if not data.strip():
        return "empty file"
    try:
        parsed = parse_document(data, path.suffix, display_path(path.stem), ocr)
    except UnreadableDocument as error:
        return str(error)
    content_hash = hashlib.sha256(data).hexdigest()
    documents = tuple(
        Document(
            page_content=page.text, metadata=_metadata(page, parsed, source, path, content_hash)
        )
        for page in parsed.pages
        if page.text.strip()
    )
    if not documents:
        return "no text in file"
    return LoadedFile(path, source, content_hash, len(data), documents, parsed.warnings)


def _metadata(
    page: Page, parsed: ParsedDocument, source: str, path: Path, content_hash: str
) -> dict[str, object]:
    """A page's metadata; ``page_label``, ``language`` and ``table_header`` only when set."""
    metadata: dict[str, object] = {
        "source": source,
        "page": page.number,
        "title": parsed.title,
        "path": str(path),
        "content_hash": content_hash,
    }
    optional = {
        "page_label": page.label,
        "language": parsed.language,
        "table_header": page.table_header,
    }
    metadata.update((key, value) for key, value in optional.items() if value)
    return metadata
