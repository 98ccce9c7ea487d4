"""The error table: one line per error, and how each interface reports it."""

import pytest

import app.errors
import retrievers.errors
import retrievers.writer_lock
from app.errors import (
    ConfigError,
    IndexBusyError,
    IndexDamagedError,
    IndexNotFoundError,
    InputPathError,
    ProviderError,
    RagError,
    UsageError,
    error_table,
    exit_code_of,
    first_line,
    http_status_of,
    one_line,
)

EXPORTED_ERRORS = {
    name
    for name in app.errors.__all__
    if isinstance(getattr(app.errors, name), type)
    and issubclass(getattr(app.errors, name), RagError)
}


def test_our_errors_are_their_first_line() -> None:
    error = ConfigError("RAG_TOP_K must be a whole number from 1 to 100; got 'zero'\nmore detail")
    assert one_line(error) == "RAG_TOP_K must be a whole number from 1 to 100; got 'zero'"
    assert one_line(IndexDamagedError.at("/idx", "index.faiss is missing")) == (
        "index at /idx is damaged: index.faiss is missing; run `rag ingest --rebuild PATH`"
    )
    assert one_line(ProviderError("  \n  Ollama is not running at http://127.0.0.1:11434  \n")) == (
        "Ollama is not running at http://127.0.0.1:11434"
    )


def test_an_interruption_is_one_word() -> None:
    assert one_line(KeyboardInterrupt()) == "interrupted"
    assert one_line(KeyboardInterrupt("at the second question")) == "interrupted"


def test_other_exceptions_are_unexpected_with_their_type_and_first_line() -> None:
    assert one_line(TypeError("bad operand\nTraceback lines")) == (
        "unexpected TypeError: bad operand"
    )
    assert one_line(ZeroDivisionError("boom")) == "unexpected ZeroDivisionError: boom"


def test_an_empty_message_becomes_the_type_name() -> None:
    assert first_line(ValueError("")) == "ValueError"
    assert one_line(UsageError()) == "UsageError"
    assert one_line(IndexNotFoundError("   \n")) == "IndexNotFoundError"
    assert one_line(OSError()) == "unexpected OSError"


def test_exit_codes_and_http_statuses_of_any_exception() -> None:
    assert (exit_code_of(ConfigError("x")), http_status_of(ConfigError("x"))) == (2, 400)
    assert (exit_code_of(UsageError("x")), http_status_of(UsageError("x"))) == (2, 400)
    assert (exit_code_of(IndexNotFoundError("x")), http_status_of(IndexNotFoundError("x"))) == (
        1,
        404,
    )
    assert (exit_code_of(ProviderError("x")), http_status_of(ProviderError("x"))) == (1, 503)
    assert (exit_code_of(IndexBusyError("x")), http_status_of(IndexBusyError("x"))) == (1, 409)
    assert exit_code_of(KeyboardInterrupt()) == 130
    assert (exit_code_of(RuntimeError("x")), http_status_of(RuntimeError("x"))) == (1, 500)


def test_every_error_class_has_an_exit_code_and_an_http_status() -> None:
    table = error_table()
    names = [name for name, _, _, _ in table]
    assert names[0] == "RagError"
    assert len(names) == len(set(names))
    assert EXPORTED_ERRORS - set(names) == set()
    for name, exit_code, http_status, meaning in table:
        assert type(exit_code) is int and exit_code >= 1, name
        assert type(http_status) is int and 400 <= http_status <= 599, name
        assert meaning and "\n" not in meaning, name


@pytest.mark.parametrize("error", [ConfigError, UsageError, InputPathError])
def test_mistakes_in_the_request_exit_2_and_are_bad_requests(error: type[RagError]) -> None:
    rows = {name: (exit_code, http_status) for name, exit_code, http_status, _ in error_table()}
    assert rows[error.__name__] == (2, 400)
    assert (error.exit_code, error.http_status) == (2, 400)


def test_the_busy_index_error_is_one_class_wherever_it_is_imported_from() -> None:
    assert app.errors.IndexBusyError is retrievers.errors.IndexBusyError
    assert retrievers.writer_lock.IndexBusyError is retrievers.errors.IndexBusyError
