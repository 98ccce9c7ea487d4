"""The database schema ragkit keeps in PostgreSQL, and its migrations.

Shared tables: ``ragkit_schema`` (the schema version) and ``ragkit_collections`` (one row per
collection: its manifest without the file list, and a generation that every write bumps).
Each collection has its own chunk, file and keyword (BM25 document frequency) tables,
because the vector column is typed by the collection's dimension: ``vector(d)`` or
``halfvec(d)``, with an HNSW cosine index, and a generated ``tsvector`` over the chunk's search
tokens with a GIN index.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SCHEMA_VERSION = 3
MIN_PGVECTOR = (0, 8, 0)
"""``hnsw.iterative_scan`` (filtered searches that still return k rows) came in pgvector 0.8."""
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,48}$")


def check_collection_name(name: str) -> str:
    """A collection name is 1-48 letters, digits, ``_`` or ``-``; ``ValueError`` otherwise."""
    if not _NAME.match(name):
        raise ValueError(f"collection name {name!r} must be 1-48 letters, digits, '_' or '-'")
    return name


@dataclass(frozen=True)
class CollectionTables:
    """The table names of one collection (a short hash keeps them within 63 bytes)."""

    collection: str

    @property
    def _stem(self) -> str:
        digest = hashlib.sha256(self.collection.encode()).hexdigest()[:8]
        safe = re.sub(r"[^a-z0-9_]", "_", self.collection.lower())[:30]
        return f"ragkit_{safe}_{digest}"

    @property
    def chunks(self) -> str:
        """The chunk table."""
        return f"{self._stem}_chunks"

    @property
    def files(self) -> str:
        """The file table (hashes for sync)."""
        return f"{self._stem}_files"

    @property
    def terms(self) -> str:
        """The keyword table: in how many chunks each search token occurs (BM25's df)."""
        return f"{self._stem}_terms"


def vector_type(dtype: str) -> tuple[str, str]:
    """The pgvector column type and its cosine operator class for a stored dtype."""
    return (
        ("halfvec", "halfvec_cosine_ops") if dtype == "float16" else ("vector", "vector_cosine_ops")
    )


def _v1(cursor: Any) -> None:
    cursor.execute(
        """
        CREATE TABLE IF NOT EXISTS ragkit_collections (
            name text PRIMARY KEY,
            manifest jsonb NOT NULL,
            generation bigint NOT NULL DEFAULT 0,
            dimension integer NOT NULL,
            vector_dtype text NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def _v2(cursor: Any) -> None:
    # BM25 needs the average chunk length: the collection keeps its total token count.
    cursor.execute(
        "ALTER TABLE ragkit_collections ADD COLUMN IF NOT EXISTS token_total bigint NOT NULL "
        "DEFAULT 0"
    )


def _v3(cursor: Any) -> None:
    # A citation opens one chunk by its id, `rag show` one file's chunks: look them up by
    # index; `rag ls` shows when each file was indexed.
    cursor.execute("SELECT name FROM ragkit_collections")
    for (name,) in cursor.fetchall():
        tables = CollectionTables(name)
        create_lookup_indexes(cursor, tables)
        cursor.execute(
            f"ALTER TABLE {tables.files} ADD COLUMN IF NOT EXISTS indexed_at text NOT NULL "
            "DEFAULT '', ADD COLUMN IF NOT EXISTS pages integer NOT NULL DEFAULT 0"
        )


def create_lookup_indexes(cursor: Any, tables: CollectionTables) -> None:
    """B-tree indexes on the chunk id and the source, for lookups of one chunk or one file."""
    cursor.execute(f"CREATE INDEX IF NOT EXISTS {tables.chunks}_id ON {tables.chunks} (chunk_id)")
    cursor.execute(f"CREATE INDEX IF NOT EXISTS {tables.chunks}_source ON {tables.chunks} (source)")


MIGRATIONS: tuple[Callable[[Any], None], ...] = (_v1, _v2, _v3)
"""Step n brings the schema from version n to n + 1; append, never edit a released step."""


def migrate(connection: Any) -> None:
    """Bring the shared tables to ``SCHEMA_VERSION``, one migrator at a time, in a transaction."""
    with connection.transaction(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended('ragkit:schema', 0))")
        cursor.execute("CREATE TABLE IF NOT EXISTS ragkit_schema (version integer NOT NULL)")
        cursor.execute("SELECT version FROM ragkit_schema")
        row = cursor.fetchone()
        current = int(row[0]) if row else 0
        if current > SCHEMA_VERSION:
            raise RuntimeError(
                f"the database schema is version {current}, this ragkit knows {SCHEMA_VERSION}; "
                "upgrade ragkit"
            )
        for step in MIGRATIONS[current:]:
            step(cursor)
        if row is None:
            cursor.execute("INSERT INTO ragkit_schema VALUES (%s)", (SCHEMA_VERSION,))
        elif current != SCHEMA_VERSION:
            cursor.execute("UPDATE ragkit_schema SET version = %s", (SCHEMA_VERSION,))


def create_collection_tables(
    cursor: Any, tables: CollectionTables, dimension: int, dtype: str
) -> None:
    """(Re)create one collection's tables for vectors of ``dimension`` kept as ``dtype``.

    The search indexes come after the first rows (``create_search_indexes``).
    """
    column = vector_type(dtype)[0]
    cursor.execute(f"DROP TABLE IF EXISTS {tables.chunks}, {tables.files}, {tables.terms}")
    cursor.execute(
        f"""
        CREATE TABLE {tables.chunks} (
            row_id bigserial PRIMARY KEY,
            chunk_id text NOT NULL,
            path text NOT NULL,
            source text NOT NULL,
            text text NOT NULL,
            metadata jsonb NOT NULL,
            text_key text NOT NULL,
            search_tokens text NOT NULL,
            token_count integer NOT NULL,
            tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', search_tokens)) STORED,
            embedding {column}({dimension}) NOT NULL
        )
        """
    )
    cursor.execute(f"CREATE INDEX ON {tables.chunks} (path)")
    cursor.execute(f"CREATE INDEX ON {tables.chunks} (text_key)")
    create_lookup_indexes(cursor, tables)
    cursor.execute(f"CREATE TABLE {tables.terms} (term text PRIMARY KEY, df integer NOT NULL)")
    cursor.execute(
        f"""
        CREATE TABLE {tables.files} (
            path text PRIMARY KEY,
            source text NOT NULL,
            content_hash text NOT NULL,
            chunks integer NOT NULL,
            size bigint NOT NULL,
            indexed_at text NOT NULL DEFAULT '',
            pages integer NOT NULL DEFAULT 0,
            position bigint NOT NULL
        )
        """
    )


def create_search_indexes(
    cursor: Any, tables: CollectionTables, dtype: str, rows: int, dimension: int
) -> None:
    """Create the HNSW (cosine) and GIN (full text) indexes.

    They are built once the first rows are in: faster than growing them row by row, and
    fastest when the whole graph fits in ``maintenance_work_mem`` (raised for this
    transaction to what ``rows`` vectors of ``dimension`` need, never lowered).
    """
    ops = vector_type(dtype)[1]
    wanted_kb = hnsw_build_memory(rows, dimension, dtype) // 1024
    cursor.execute("SELECT setting::bigint FROM pg_settings WHERE name = 'maintenance_work_mem'")
    if wanted_kb > int(cursor.fetchone()[0]):
        cursor.execute(f"SET LOCAL maintenance_work_mem = '{wanted_kb}kB'")
    cursor.execute(
        f"CREATE INDEX IF NOT EXISTS {tables.chunks}_hnsw ON {tables.chunks} "
        f"USING hnsw (embedding {ops}) WITH (m = 16, ef_construction = 64)"
    )
    cursor.execute(
        f"CREATE INDEX IF NOT EXISTS {tables.chunks}_gin ON {tables.chunks} USING gin (tsv)"
    )


HNSW_BUILD_MEMORY_CAP = 4 << 30
"""The most ``maintenance_work_mem`` an index build asks for (pgvector's docs use 8GB)."""


def hnsw_build_memory(rows: int, dimension: int, dtype: str) -> int:
    """Bytes an in-memory HNSW build (m = 16) of ``rows`` vectors takes, capped.

    Each element holds its vector and, at m = 16, 32 neighbour slots on the ground layer
    (a few more above) of about 10 bytes each, plus pgvector's element header.
    """
    bytes_per_component = 2 if dtype == "float16" else 4
    per_element = dimension * bytes_per_component + 40 * 10 + 64
    return min(HNSW_BUILD_MEMORY_CAP, int(rows * per_element * 1.2))


def parse_version(text: str) -> tuple[int, ...]:
    """``"0.8.1"`` -> ``(0, 8, 1)``."""
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])
