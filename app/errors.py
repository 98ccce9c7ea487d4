"""The error table: errors users can act on, with how each interface reports them.

Every ``RagError`` subclass carries its command-line ``exit_code`` and its ``http_status``;
``one_line`` gives the one-line message of any exception, the same in every interface.
"""

from __future__ import annotations

from retrievers.errors import (
    IndexBusyError,
    IndexDamagedError,
    IndexMismatchError,
    IndexNotFoundError,
    RagError,
    StoreUnavailableError,
    first_line,
)


class UsageError(RagError):
    """A request that cannot be answered as asked (an empty question, an unknown option)."""

    exit_code = 2
    http_status = 400


class ConfigError(RagError):
    """A setting has a value ragkit cannot use; the message names it and what is accepted."""

    exit_code = 2
    http_status = 400


class InputPathError(RagError):
    """A path given to ingest does not exist or cannot be read."""

    exit_code = 2
    http_status = 400


class ProviderError(RagError):
    """An embedding or chat model cannot be loaded or reached."""

    http_status = 503


class NothingIndexedError(RagError):
    """An ingest found no file it could index."""

    http_status = 422


class SkippedFilesError(RagError):
    """With --strict, some files could not be indexed, so nothing was written."""

    http_status = 422


class NotInIndexError(RagError):
    """A file or chunk named in a request is not in the index."""

    http_status = 404


class TokenError(RagError):
    """A server request without the right bearer token (RAG_SERVE_TOKEN)."""

    http_status = 401


class ForbiddenRequestError(RagError):
    """A server request from a foreign Host or Origin, or outside the allowed folders."""

    http_status = 403


class TooLargeError(RagError):
    """An upload over the server's limits (size of a file, of a request, number of files)."""

    http_status = 413


class AnswerQueueFullError(RagError):
    """The server's answer queue is full; retry after the seconds it names."""

    http_status = 503

    def __init__(self, message: str = "", retry_after: float = 0.0) -> None:
        """``retry_after``: seconds after which a place is likely free (the Retry-After header)."""
        super().__init__(message)
        self.retry_after = retry_after


INTERRUPTED_EXIT_CODE = 130


def one_line(error: BaseException) -> str:
    """What a user is told about any exception: the message of ours, a short note otherwise."""
    if isinstance(error, RagError):
        return first_line(error)
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    name = type(error).__name__
    return f"unexpected {name}: {first_line(error)}" if str(error).strip() else f"unexpected {name}"


def exit_code_of(error: BaseException) -> int:
    """The command line's exit status for an exception."""
    if isinstance(error, RagError):
        return error.exit_code
    return INTERRUPTED_EXIT_CODE if isinstance(error, KeyboardInterrupt) else 1


def http_status_of(error: BaseException) -> int:
    """A server's HTTP status for an exception (500 for anything unexpected)."""
    return error.http_status if isinstance(error, RagError) else 500


def error_table() -> list[tuple[str, int, int, str]]:
    """Every error class with its exit code, HTTP status and meaning, for the docs and tests."""
    rows = []
    pending: list[type[RagError]] = [RagError]
    while pending:
        kind = pending.pop(0)
        doc = (kind.__doc__ or "").strip().splitlines()[0]
        rows.append((kind.__name__, kind.exit_code, kind.http_status, doc))
        pending.extend(sorted(kind.__subclasses__(), key=lambda sub: sub.__name__))
    return rows


__all__ = [
    "AnswerQueueFullError",
    "ConfigError",
    "ForbiddenRequestError",
    "IndexBusyError",
    "IndexDamagedError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "InputPathError",
    "NotInIndexError",
    "NothingIndexedError",
    "ProviderError",
    "RagError",
    "SkippedFilesError",
    "StoreUnavailableError",
    "TokenError",
    "TooLargeError",
    "UsageError",
    "error_table",
    "exit_code_of",
    "first_line",
    "http_status_of",
    "one_line",
]
