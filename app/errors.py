"""Errors users can act on. The CLI prints them in one line and exits with ``exit_code``."""

from retrievers.errors import IndexDamagedError, IndexMismatchError, IndexNotFoundError, RagError


class ConfigError(RagError):
    """A setting has a value ragkit cannot use; the message names it and what is accepted."""

    exit_code = 2


class InputPathError(RagError):
    """A path given to ingest does not exist or cannot be read."""

    exit_code = 2


class ProviderError(RagError):
    """An embedding or chat model cannot be loaded or reached."""


class NothingIndexedError(RagError):
    """An ingest found no file it could index."""


class SkippedFilesError(RagError):
    """With --strict, some files could not be indexed, so nothing was written."""


__all__ = [
    "ConfigError",
    "IndexDamagedError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "InputPathError",
    "NothingIndexedError",
    "ProviderError",
    "RagError",
    "SkippedFilesError",
]
