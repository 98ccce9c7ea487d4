"""The PostgreSQL store: one collection of chunks, vectors and file hashes in a database.

It keeps the promises of ``retrievers.store``: every write is one transaction, so readers
(single statements) see the old or the new index, never half; a killed writer's transaction
is rolled back by the server; one writer per collection holds a session advisory lock,
released by the server when the writer dies. Searches run in SQL (``PostgresIndex``); only
``load`` (for moving an index between stores) reads every chunk.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, replace
from typing import Any, TypeVar

import numpy as np

from retrievers.docstore import ChunkRecord
from retrievers.errors import (
    IndexBusyError,
    IndexDamagedError,
    IndexMismatchError,
    IndexNotFoundError,
)
from retrievers.index_types import build_faiss_index
from retrievers.manifest import FileEntry, IndexSpec, Manifest
from retrievers.postgres.connection import (
    ReadConnection,
    connect,
    lost_connection,
    masked_url,
)
from retrievers.postgres.schema import (
    CollectionTables,
    check_collection_name,
    create_collection_tables,
    create_search_indexes,
    migrate,
)
from retrievers.postgres.search import PostgresIndex, parse_vector, vector_literal
from retrievers.sparse import SparseIndex, tokenize
from retrievers.store import IndexChanges
from retrievers.vector_index import VectorIndex, Vectors, normalize, search_text, text_key

T = TypeVar("T")
LOCK_POLL_SECONDS = 0.2
COPY_COLUMNS = (
    "chunk_id, path, source, text, metadata, text_key, search_tokens, token_count, embedding"
)


def pgvector_index_spec(vector_dtype: str) -> IndexSpec:
    """How a Postgres collection searches its vectors: pgvector's HNSW (cosine)."""
    return IndexSpec("pgvector-hnsw", {"m": 16, "ef_construction": 64}, vector_dtype)


class PostgresStore:
    """One collection of a PostgreSQL database with pgvector."""

    def __init__(
        self,
        url: str,
        *,
        collection: str = "default",
        read_url: str | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        """The collection ``collection`` at ``url``; searches go to ``read_url`` when given."""
        self.url = url
        self.read_url = read_url
        self.collection = check_collection_name(collection)
        self.tables = CollectionTables(self.collection)
        self._reader = ReadConnection(url, read_url, warn)
        self._writer: Any = None
        self._migrated = False
        self._writing = False

    @property
    def location(self) -> str:
        """The database URL without its password, and the collection."""
        return f"{masked_url(self.url)} (collection {self.collection})"

    # Reading -------------------------------------------------------------------------

    def _read(self, query: Callable[[Any], T]) -> T:
        """Run a read on the replica (or primary); a writer reads its own primary."""
        if self._writing:
            with self._writer_connection().cursor() as cursor:
                return query(cursor)
        return self._reader.read(query)

    def _collection_row(self, cursor: Any) -> tuple[Manifest, int, int] | None:
        """The collection's manifest (without files), generation and total token count."""
        cursor.execute("SELECT to_regclass('ragkit_collections') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return None
        cursor.execute(
            "SELECT manifest, generation, token_total FROM ragkit_collections WHERE name = %s",
            (self.collection,),
        )
        row = cursor.fetchone()
        if row is None:
            return None
        return self._parse_manifest(row[0]), int(row[1]), int(row[2])

    def _parse_manifest(self, data: Any) -> Manifest:
        try:
            return Manifest.from_json(json.dumps(data))
        except (ValueError, KeyError, TypeError) as error:
            raise self._damaged(f"the stored manifest is invalid ({error})") from error

    def _live(self, cursor: Any) -> tuple[Manifest, int, int]:
        found = self._collection_row(cursor)
        if found is None:
            raise IndexNotFoundError(
                f"no index in {self.location} yet: run `rag ingest PATH` first"
            )
        return found

    def _files(self, cursor: Any) -> tuple[FileEntry, ...]:
        cursor.execute(
            "SELECT path, source, content_hash, chunks, size, indexed_at, pages "
            f"FROM {self.tables.files} ORDER BY position"
        )
        return tuple(FileEntry(*row) for row in cursor.fetchall())

    def version(self) -> str:
        """The collection's generation, bumped by every write."""
        return str(self._read(lambda cursor: self._live(cursor)[1]))

    def manifest(self) -> Manifest:
        """The live manifest with its file list (no chunk is read)."""

        def read(cursor: Any) -> Manifest:
            manifest = self._live(cursor)[0]
            return replace(manifest, files=self._files(cursor))

        return self._read(read)

    def verify(self) -> Manifest:
        """The manifest's chunk count and the chunk table agree."""

        def read(cursor: Any) -> Manifest:
            manifest = self._live(cursor)[0]
            cursor.execute(f"SELECT count(*) FROM {self.tables.chunks}")
            rows = int(cursor.fetchone()[0])
            if rows != manifest.chunk_count:
                raise self._damaged(f"{rows} chunk rows, manifest says {manifest.chunk_count}")
            return replace(manifest, files=self._files(cursor))

        return self._read(read)

    def searchable(self) -> PostgresIndex:
        """A handle that searches the collection in SQL; nothing else is read."""
        manifest = self.manifest()
        return PostgresIndex(
            self._reader,
            self.tables,
            manifest.embedding,
            manifest.chunking,
            manifest.index.vector_dtype,
            manifest.chunk_count,
        )

    def load(self) -> VectorIndex:
        """Every chunk and vector in memory (to move an index to another store)."""

        def read(cursor: Any) -> tuple[Manifest, list[ChunkRecord], list[str]]:
            # One snapshot for the manifest and the rows.
            cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                manifest = self._live(cursor)[0]
                manifest = replace(manifest, files=self._files(cursor))
                cursor.execute(
                    f"SELECT chunk_id, text, metadata, embedding::text FROM {self.tables.chunks} "
                    "ORDER BY row_id"
                )
                rows = cursor.fetchall()
            finally:
                cursor.execute("COMMIT")
            records = [
                ChunkRecord(chunk_id, text, metadata) for chunk_id, text, metadata, _ in rows
            ]
            return manifest, records, [row[3] for row in rows]

        manifest, records, vectors_text = self._read(read)
        if len(records) != manifest.chunk_count:
            raise self._damaged(f"{len(records)} chunk rows, manifest says {manifest.chunk_count}")
        dimension = manifest.embedding.dimension
        vectors = (
            np.vstack([parse_vector(text) for text in vectors_text])
            if vectors_text
            else np.zeros((0, dimension), dtype=np.float32)
        )
        if vectors.shape[1] != dimension:
            raise self._damaged(
                f"vectors have {vectors.shape[1]} dimensions, manifest says {dimension}"
            )
        spec = manifest.index
        faiss_spec = (
            spec if spec.type != "pgvector-hnsw" else IndexSpec("flat", {}, spec.vector_dtype)
        )
        return VectorIndex(
            manifest.embedding,
            manifest.chunking,
            records,
            build_faiss_index(faiss_spec, vectors),
            manifest.files,
            created_at=manifest.created_at,
            sparse=SparseIndex.build([search_text(r, manifest.chunking.context) for r in records]),
            stored_vectors=vectors.astype(spec.vector_dtype, copy=False),
            index_spec=spec,
        )

    def known_vectors(self, text_keys: Sequence[str]) -> Mapping[str, Vectors]:
        """Stored vectors of chunks embedded from these texts (the embedding cache)."""
        if not text_keys:
            return {}
        sql = (
            f"SELECT DISTINCT ON (text_key) text_key, embedding::text FROM {self.tables.chunks} "
            "WHERE text_key = ANY(%s)"
        )
        rows = self._writer_connection().execute(sql, (list(set(text_keys)),)).fetchall()
        return {key: parse_vector(text) for key, text in rows}

    def size_bytes(self) -> int:
        """Space the collection's tables and indexes take."""

        def read(cursor: Any) -> int:
            self._live(cursor)
            cursor.execute(
                "SELECT pg_total_relation_size(%s) + pg_total_relation_size(%s)",
                (self.tables.chunks, self.tables.files),
            )
            return int(cursor.fetchone()[0])

        return self._read(read)

    # Writing -------------------------------------------------------------------------

    def _writer_connection(self) -> Any:
        if self._writer is None or self._writer.closed:
            self._writer = connect(self.url, application="ragkit writer")
        if not self._migrated:
            migrate(self._writer)
            self._migrated = True
        return self._writer

    def publish(self, index: VectorIndex) -> None:
        """Replace the collection with ``index`` in one transaction."""
        manifest = index.manifest
        self.apply(
            IndexChanges(
                manifest,
                (),
                index.records,
                np.asarray(index.stored_vectors, dtype=np.float32),
                replace=True,
            ),
            keep_spec=True,
        )

    def apply(self, changes: IndexChanges, *, keep_spec: bool = False) -> None:
        """Remove, add and relabel rows and write the manifest, all in one transaction."""
        import psycopg

        try:
            self._apply(changes, keep_spec)
        except psycopg.OperationalError as error:
            self.close()
            raise lost_connection(self.url, error) from None

    def _apply(self, changes: IndexChanges, keep_spec: bool) -> None:
        manifest = changes.manifest
        spec = manifest.index if keep_spec else pgvector_index_spec(manifest.index.vector_dtype)
        connection = self._writer_connection()
        with connection.transaction(), connection.cursor() as cursor:
            previous = self._collection_row(cursor)
            fresh = changes.replace or previous is None
            if previous is not None and not fresh:
                self._require_same_vectors(previous[0], manifest, spec)
            same_vectors = previous is not None and self._same_vectors(previous[0], manifest, spec)
            if fresh and same_vectors:
                # Emptied row by row, not dropped: readers keep the old rows until commit.
                cursor.execute(f"DELETE FROM {self.tables.chunks}")
                cursor.execute(f"DELETE FROM {self.tables.terms}")
                count = tokens = 0
            elif fresh:
                # New vector type: readers of this collection wait for the commit.
                create_collection_tables(
                    cursor, self.tables, manifest.embedding.dimension, spec.vector_dtype
                )
                count = tokens = 0
            else:
                assert previous is not None
                count, tokens = previous[0].chunk_count, previous[2]
                removed, removed_tokens = self._delete(cursor, changes.removed_paths)
                count, tokens = count - removed, tokens - removed_tokens
            self._relabel_kept(cursor, manifest.files)
            cursor.execute(f"SELECT coalesce(max(row_id), 0) FROM {self.tables.chunks}")
            last_row = int(cursor.fetchone()[0])
            tokens += self._insert(cursor, changes.records, changes.vectors, manifest)
            count += len(changes.records)
            self._count_terms(cursor, last_row)
            if fresh:
                create_search_indexes(
                    cursor, self.tables, spec.vector_dtype, count, manifest.embedding.dimension
                )
            self._write_files(cursor, manifest.files)
            stored = replace(manifest, files=(), chunk_count=count, index=spec)
            data = json.loads(stored.to_json())
            cursor.execute(
                """
                INSERT INTO ragkit_collections
                    (name, manifest, generation, dimension, vector_dtype, token_total)
                VALUES (%(name)s, %(manifest)s, 1, %(dimension)s, %(dtype)s, %(tokens)s)
                ON CONFLICT (name) DO UPDATE SET manifest = EXCLUDED.manifest,
                    generation = ragkit_collections.generation + 1,
                    token_total = EXCLUDED.token_total,
                    dimension = EXCLUDED.dimension, vector_dtype = EXCLUDED.vector_dtype,
                    updated_at = now()
                """,
                {
                    "name": self.collection,
                    "manifest": json.dumps(data),
                    "dimension": manifest.embedding.dimension,
                    "dtype": spec.vector_dtype,
                    "tokens": tokens,
                },
            )

    @staticmethod
    def _same_vectors(previous: Manifest, manifest: Manifest, spec: IndexSpec) -> bool:
        old, new = previous.embedding, manifest.embedding
        return (old.dimension, previous.index.vector_dtype) == (new.dimension, spec.vector_dtype)

    def _require_same_vectors(
        self, previous: Manifest, manifest: Manifest, spec: IndexSpec
    ) -> None:
        old, new = previous.embedding, manifest.embedding
        if not self._same_vectors(previous, manifest, spec):
            raise IndexMismatchError(
                f"the collection {self.collection} holds {old.label} vectors as "
                f"{previous.index.vector_dtype}, this ingest writes {new.label} as "
                f"{spec.vector_dtype}; run `rag ingest --rebuild PATH`"
            )

    def _delete(self, cursor: Any, paths: Sequence[str]) -> tuple[int, int]:
        """Delete the chunks of ``paths`` and their keyword counts: (chunks, tokens) removed."""
        if not paths:
            return 0, 0
        chunks, terms = self.tables.chunks, self.tables.terms
        cursor.execute(
            f"""
            WITH gone AS (
                DELETE FROM {chunks} WHERE path = ANY(%s) RETURNING search_tokens, token_count
            ), counted AS (
                SELECT term, count(*) AS n
                FROM gone, LATERAL (
                    SELECT DISTINCT unnest(string_to_array(gone.search_tokens, ' ')) AS term
                ) AS words
                WHERE term <> '' GROUP BY term
            ), lowered AS (
                UPDATE {terms} SET df = {terms}.df - counted.n
                FROM counted WHERE {terms}.term = counted.term
            )
            SELECT count(*), coalesce(sum(token_count), 0) FROM gone
            """,
            (list(paths),),
        )
        removed, removed_tokens = cursor.fetchone()
        return int(removed), int(removed_tokens)

    def _count_terms(self, cursor: Any, after_row: int) -> None:
        """Add the rows after ``after_row`` to the keyword counts (document frequencies)."""
        chunks, terms = self.tables.chunks, self.tables.terms
        cursor.execute(
            f"""
            INSERT INTO {terms} (term, df)
            SELECT term, count(*)
            FROM {chunks} AS c, LATERAL (
                SELECT DISTINCT unnest(string_to_array(c.search_tokens, ' ')) AS term
            ) AS words
            WHERE c.row_id > %s AND term <> ''
            GROUP BY term
            ON CONFLICT (term) DO UPDATE SET df = {terms}.df + EXCLUDED.df
            """,
            (after_row,),
        )

    def _relabel_kept(self, cursor: Any, files: Sequence[FileEntry]) -> None:
        """Kept files whose display name changed: their chunks' ``source`` follows."""
        cursor.execute(f"SELECT path, source FROM {self.tables.files}")
        stored = dict(cursor.fetchall())
        for entry in files:
            if entry.path in stored and stored[entry.path] != entry.source:
                cursor.execute(
                    f"UPDATE {self.tables.chunks} SET source = %(source)s, "
                    "metadata = jsonb_set(metadata, '{source}', to_jsonb(%(source)s::text)) "
                    "WHERE path = %(path)s",
                    {"source": entry.source, "path": entry.path},
                )

    def _insert(
        self, cursor: Any, records: Sequence[ChunkRecord], vectors: Vectors, manifest: Manifest
    ) -> int:
        """COPY the records in; the number of search tokens they hold (for BM25)."""
        if not len(records):
            return 0
        tokens = 0
        unit = normalize(vectors)
        context = manifest.chunking.context
        with cursor.copy(f"COPY {self.tables.chunks} ({COPY_COLUMNS}) FROM STDIN") as copy:
            for record, vector in zip(records, unit, strict=True):
                embedded = search_text(record, context)
                words = tokenize(embedded)
                tokens += len(words)
                copy.write_row(
                    (
                        record.id,
                        str(record.metadata.get("path", record.metadata.get("source", ""))),
                        str(record.metadata.get("source", "")),
                        record.text,
                        json.dumps(record.metadata, ensure_ascii=False),
                        text_key(embedded),
                        " ".join(words),
                        len(words),
                        vector_literal(vector),
                    )
                )
        return tokens

    def _write_files(self, cursor: Any, files: Sequence[FileEntry]) -> None:
        cursor.execute(f"DELETE FROM {self.tables.files}")
        with cursor.copy(
            f"COPY {self.tables.files} (path, source, content_hash, chunks, size, indexed_at, "
            "pages, position) FROM STDIN"
        ) as copy:
            for position, entry in enumerate(files):
                copy.write_row((*asdict(entry).values(), position))

    def collection_names(self) -> list[str]:
        """Every collection of this database, by name (none before the first ingest)."""

        def read(cursor: Any) -> list[str]:
            cursor.execute("SELECT to_regclass('ragkit_collections') IS NOT NULL")
            if not cursor.fetchone()[0]:
                return []
            cursor.execute("SELECT name FROM ragkit_collections ORDER BY name")
            return [str(row[0]) for row in cursor.fetchall()]

        return self._read(read)

    def drop(self, wait_seconds: float = 0.0) -> None:
        """Delete this collection's tables and manifest, once no writer holds it."""
        if self.collection not in self.collection_names():
            raise IndexNotFoundError(f"no index in {self.location} to drop")
        with self.writer_lock(wait_seconds):
            connection = self._writer_connection()
            with connection.transaction(), connection.cursor() as cursor:
                cursor.execute("DELETE FROM ragkit_collections WHERE name = %s", (self.collection,))
                tables = self.tables
                cursor.execute(
                    f"DROP TABLE IF EXISTS {tables.chunks}, {tables.files}, {tables.terms}"
                )

    @contextlib.contextmanager
    def writer_lock(self, wait_seconds: float = 0.0) -> Iterator[None]:
        """The collection's advisory lock, held by a connection of its own."""
        holder = f"ragkit writer pid {os.getpid()} on {socket.gethostname()}"
        connection = connect(self.url, application=holder)
        key = f"ragkit:collection:{self.collection}"
        try:
            deadline = time.monotonic() + max(wait_seconds, 0.0)
            while not connection.execute(
                "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (key,)
            ).fetchone()[0]:
                if time.monotonic() >= deadline:
                    waited = f" after waiting {wait_seconds:g} s" if wait_seconds > 0 else ""
                    raise IndexBusyError(
                        f"another ingest is writing the index at {self.location}{waited} "
                        f"({self._holder(connection, key)}); wait for it, or retry with "
                        "--wait SECONDS"
                    )
                time.sleep(LOCK_POLL_SECONDS)
            self._writing = True
            yield
        finally:
            if self._writing:
                # Released here, not by closing: the server frees a closed session's locks
                # only when it notices, and a writer right after could find it still held.
                with contextlib.suppress(Exception):
                    connection.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (key,))
            self._writing = False
            connection.close()

    @staticmethod
    def _holder(connection: Any, key: str) -> str:
        row = connection.execute(
            """
            SELECT a.application_name, a.backend_start::timestamp(0)
            FROM pg_locks l JOIN pg_stat_activity a USING (pid),
                 (SELECT hashtextextended(%s, 0) AS key) k
            WHERE l.locktype = 'advisory' AND l.granted
              AND l.classid::bigint = (k.key >> 32) & 4294967295
              AND l.objid::bigint = k.key & 4294967295
            LIMIT 1
            """,
            (key,),
        ).fetchone()
        return f"{row[0]}, since {row[1]}" if row else "holder unknown"

    def close(self) -> None:
        """Close this store's connections."""
        self._reader.close()
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _damaged(self, reason: str) -> IndexDamagedError:
        return IndexDamagedError.at(self.location, reason)
