"""Connections to PostgreSQL: secrets masked, pgvector checked, a replica with fallback.

The password comes from the URL, ``PGPASSWORD`` or ``~/.pgpass`` (libpq reads the last two
itself); it is never printed: ``masked_url`` is what users and logs see.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from retrievers.errors import StoreUnavailableError, first_line
from retrievers.postgres.schema import MIN_PGVECTOR, parse_version

T = TypeVar("T")
CONNECT_TIMEOUT_SECONDS = 5
SEARCH_SETTINGS = (
    # Filtered HNSW searches keep scanning until they have enough rows (pgvector 0.8).
    "SET hnsw.iterative_scan = relaxed_order",
    "SET hnsw.ef_search = 100",
)


def masked_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (and query parameters dropped)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "postgresql://(unparsable URL)"
    netloc = parts.netloc
    if "@" in netloc:
        credentials, host = netloc.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in credentials else f"{user}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def connect(url: str, *, application: str = "ragkit") -> Any:
    """An autocommit connection with pgvector checked (``StoreUnavailableError``)."""
    import psycopg

    try:
        connection = psycopg.connect(
            url,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name=application[:63],
        )
    except psycopg.Error as error:
        raise StoreUnavailableError(
            f"cannot connect to PostgreSQL at {masked_url(url)}: {_reason(error)}; "
            "check RAG_POSTGRES_URL and that the server is running"
        ) from None
    check_pgvector(connection, url)
    return connection


def check_pgvector(connection: Any, url: str) -> None:
    """Require pgvector >= 0.8 in the database, creating the extension when allowed."""
    import psycopg

    row = connection.execute(
        "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
    ).fetchone()
    if row is None and not connection.info.transaction_status:
        try:
            connection.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except psycopg.Error as error:
            connection.close()
            raise StoreUnavailableError(
                f"the database at {masked_url(url)} has no pgvector extension and it cannot be "
                f"created ({_reason(error)}); run `CREATE EXTENSION vector` as its owner"
            ) from None
        row = connection.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
        ).fetchone()
    version = str(row[0]) if row else "none"
    if parse_version(version) < MIN_PGVECTOR:
        connection.close()
        wanted = ".".join(map(str, MIN_PGVECTOR))
        raise StoreUnavailableError(
            f"the database at {masked_url(url)} has pgvector {version}, ragkit needs {wanted} "
            "or newer: run `ALTER EXTENSION vector UPDATE` after upgrading pgvector"
        )


def lost_connection(url: str, error: BaseException) -> StoreUnavailableError:
    """The error for a connection that broke during a statement."""
    return StoreUnavailableError(
        f"lost the connection to PostgreSQL at {masked_url(url)} ({_reason(error)}); "
        "check that the server is running and retry"
    )


def _reason(error: BaseException) -> str:
    return first_line(error).removeprefix("connection failed: ")


class ReadConnection:
    """One reading connection, to the replica when there is one, else to the primary.

    A replica that cannot be reached is replaced by the primary with one warning; a
    connection that breaks mid-query is opened again once.
    """

    def __init__(
        self, url: str, read_url: str | None, warn: Callable[[str], None] | None = None
    ) -> None:
        """Read from ``read_url`` (a replica) when given, falling back to ``url``."""
        self.url = url
        self.read_url = read_url
        self._warn = warn
        self._warned = False
        self._connection: Any = None
        self._lock = threading.Lock()

    def read(self, query: Callable[[Any], T]) -> T:
        """Run ``query(cursor)`` on the reading connection; reconnect once if it broke."""
        import psycopg

        with self._lock:
            for attempt in (1, 2):
                connection = self._connection or self._open()
                try:
                    with connection.cursor() as cursor:
                        return query(cursor)
                except psycopg.OperationalError as error:
                    self.close()
                    if attempt == 2:
                        raise lost_connection(self.url, error) from None
            raise AssertionError("unreachable")

    def _open(self) -> Any:
        if self.read_url:
            try:
                self._connection = connect(self.read_url, application="ragkit reader")
            except StoreUnavailableError as error:
                if not self._warned and self._warn is not None:
                    self._warn(
                        f"the read replica is unavailable, reading from the primary ({error})"
                    )
                self._warned = True
            else:
                self._configure(self._connection)
                return self._connection
        self._connection = connect(self.url, application="ragkit reader")
        self._configure(self._connection)
        return self._connection

    @staticmethod
    def _configure(connection: Any) -> None:
        for statement in SEARCH_SETTINGS:
            connection.execute(statement)

    def close(self) -> None:
        """Close the connection (a new one is opened on the next read)."""
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None
