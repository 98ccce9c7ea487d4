"""Errors a user can act on; every one carries a one-line message that says what to do.

Each class says how an interface reports it: ``exit_code`` for the command line and
``http_status`` for a server (``app.errors`` has the whole table).
"""

from __future__ import annotations


class RagError(Exception):
    """Base of every error ragkit reports to users; the CLI prints it in one line and exits."""

    exit_code = 1
    http_status = 500


class IndexNotFoundError(RagError):
    """No index has been written at the configured folder yet."""

    http_status = 404


class IndexMismatchError(RagError):
    """The index was built with another embedding model or dimension than the one in use."""

    http_status = 409


class IndexDamagedError(RagError):
    """An index file is missing, truncated or inconsistent with the others."""

    http_status = 500

    @classmethod
    def at(cls, index_dir: object, reason: str) -> IndexDamagedError:
        """The error for the index at ``index_dir``: what is wrong, and the fix."""
        return cls(f"index at {index_dir} is damaged: {reason}; run `rag ingest --rebuild PATH`")


class IndexBusyError(RagError):
    """Another process is writing the index."""

    http_status = 409


def first_line(error: BaseException) -> str:
    """The first line of an exception's message, or its type name when it has none."""
    text = str(error).strip()
    return text.splitlines()[0].strip() if text else type(error).__name__


class StoreUnavailableError(RagError):
    """The index's database cannot be reached, or lacks what ragkit needs (pgvector)."""

    http_status = 503
