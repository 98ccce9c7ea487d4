"""Errors a user can act on; every one carries a one-line message that says what to do."""

from __future__ import annotations


class RagError(Exception):
    """Base of every error ragkit reports to users; the CLI prints it in one line and exits."""

    exit_code = 1


class IndexNotFoundError(RagError):
    """No index has been written at the configured folder yet."""


class IndexMismatchError(RagError):
    """The index was built with another embedding model or dimension than the one in use."""


class IndexDamagedError(RagError):
    """An index file is missing, truncated or inconsistent with the others."""

    @classmethod
    def at(cls, index_dir: object, reason: str) -> IndexDamagedError:
        """The error for the index at ``index_dir``: what is wrong, and the fix."""
        return cls(f"index at {index_dir} is damaged: {reason}; run `rag ingest --rebuild PATH`")
