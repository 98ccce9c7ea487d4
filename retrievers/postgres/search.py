"""Hybrid search in one SQL statement: pgvector nearest neighbours and full text, then fusion.

The statement returns both candidate lists (nearest by cosine; best full-text matches by
``ts_rank``), every candidate's cosine, text and search tokens, and the collection's keyword
counts, from which each candidate gets the same BM25 score as in the local index;
``retrievers.hybrid`` then fuses them by the same rules. Chunks are never all read into memory.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import numpy as np

from retrievers.docstore import ChunkRecord
from retrievers.hybrid import Candidates
from retrievers.manifest import Chunking, EmbeddingSpec
from retrievers.postgres.connection import ReadConnection
from retrievers.postgres.schema import CollectionTables, vector_type
from retrievers.sparse import bm25_score, tokenize
from retrievers.vector_index import Vectors

RANK_NORMALIZATION = 1
"""``ts_rank`` (which picks the keyword candidates) divides by 1 + log(document length)."""


def glob_to_regex(pattern: str) -> str:
    """A shell glob (``*``, ``?``, ``[...]``, as fnmatch reads it) as an anchored POSIX regex."""
    out, i = ["^"], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[" and pattern.find("]", i + 2) > 0:
            end = pattern.find("]", i + 2)
            body = pattern[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    out.append("$")
    return "".join(out)


def keyword_query(query: str) -> str:
    """The query's search tokens as a ``websearch_to_tsquery`` text that matches any of them."""
    return " or ".join(dict.fromkeys(tokenize(query)))


def vector_literal(vector: Any) -> str:
    """A vector as pgvector's text form ``[x,y,...]``."""
    return "[" + ",".join(map(str, np.asarray(vector, dtype=np.float32).tolist())) + "]"


def parse_vector(text: str) -> Vectors:
    """Pgvector's text form back into a float32 row."""
    return np.asarray(json.loads(text), dtype=np.float32)


def _bm25(
    query_tokens: list[str],
    chunk_tokens: str,
    document_frequency: dict[str, int] | None,
    chunks: int | None,
    token_total: int | None,
) -> float:
    """The chunk's BM25 from the collection's counts, exactly as the local index scores it."""
    if not chunks:
        return 0.0
    counts = Counter(chunk_tokens.split())
    return bm25_score(
        query_tokens, counts, document_frequency or {}, chunks, (token_total or 0) / chunks
    )


class PostgresIndex:
    """One collection, searched in the database: what ``HybridRetriever`` needs of it."""

    def __init__(
        self,
        reader: ReadConnection,
        tables: CollectionTables,
        embedding: EmbeddingSpec,
        chunking: Chunking,
        vector_dtype: str,
        chunk_count: int,
    ) -> None:
        """Search ``tables`` through ``reader``; the specs come from the live manifest."""
        self._reader = reader
        self._tables = tables
        self.embedding = embedding
        self.chunking = chunking
        self._cast = vector_type(vector_dtype)[0]
        self._count = chunk_count

    def __len__(self) -> int:
        """Number of chunks when the index was opened."""
        return self._count

    def check_embedding(self, provider: str, model: str) -> None:
        """Refuse to serve queries embedded by another model than the index was built with."""
        self.embedding.require(provider, model)

    def candidates(
        self,
        query: str,
        vector: Vectors | None,
        pool: int,
        *,
        lexical: bool,
        source_glob: str | None,
    ) -> Candidates:
        """Both rankings, up to ``pool`` rows each, and every candidate's scores and text."""
        words = keyword_query(query) if lexical else ""
        if vector is None and not words:
            return Candidates([], [], {}, {})
        params: dict[str, Any] = {"pool": pool, "words": words}
        where = ""
        if source_glob:
            where = "AND source ~ %(glob)s"
            params["glob"] = glob_to_regex(source_glob)
        chunks = self._tables.chunks
        parts = []
        if vector is not None:
            params["q"] = vector_literal(vector[0] if np.ndim(vector) == 2 else vector)
            parts.append(
                f"(SELECT row_id, true AS d, false AS l FROM {chunks} WHERE true {where} "
                f"ORDER BY embedding <=> %(q)s::{self._cast} LIMIT %(pool)s)"
            )
        if words:
            parts.append(
                f"(SELECT row_id, false AS d, true AS l FROM {chunks}, "
                f"websearch_to_tsquery('simple', %(words)s) AS tq WHERE tsv @@ tq {where} "
                f"ORDER BY ts_rank(tsv, tq, {RANK_NORMALIZATION}) DESC, row_id LIMIT %(pool)s)"
            )
        cosine = f"1 - (c.embedding <=> %(q)s::{self._cast})" if vector is not None else "NULL"
        query_tokens = tokenize(query) if words else []
        params.update(terms=sorted(set(query_tokens)), collection=self._tables.collection)
        sql = f"""
            WITH found AS ({" UNION ALL ".join(parts)}),
            ids AS (SELECT row_id, bool_or(d) AS d, bool_or(l) AS l FROM found GROUP BY row_id)
            SELECT c.row_id, ids.d, ids.l, c.chunk_id, c.text, c.metadata, {cosine},
                   c.search_tokens,
                   (SELECT json_object_agg(term, df) FROM {self._tables.terms}
                    WHERE term = ANY(%(terms)s)),
                   (SELECT (manifest->>'chunk_count')::bigint FROM ragkit_collections
                    WHERE name = %(collection)s),
                   (SELECT token_total FROM ragkit_collections WHERE name = %(collection)s)
            FROM ids JOIN {chunks} c USING (row_id)
        """
        rows = self._reader.read(lambda cursor: cursor.execute(sql, params).fetchall())
        dense, keyword, cosines, scores, records = [], [], {}, {}, {}
        for row_id, in_dense, in_keyword, chunk_id, text, metadata, cos, tokens, *stats in rows:
            records[row_id] = ChunkRecord(chunk_id, text, metadata)
            if cos is not None:
                cosines[row_id] = float(cos)
            if in_dense:
                dense.append((row_id, float(cos)))
            if words:
                scores[row_id] = _bm25(query_tokens, tokens, *stats)
            if in_keyword:
                keyword.append((row_id, scores[row_id]))
        dense.sort(key=lambda pair: (-pair[1], pair[0]))
        keyword.sort(key=lambda pair: (-pair[1], pair[0]))
        return Candidates(dense, keyword, cosines, scores if words else {}, records)

    def vector(self, row: int) -> Vectors:
        """The stored vector of one chunk (for MMR)."""
        sql = f"SELECT embedding::text FROM {self._tables.chunks} WHERE row_id = %s"
        found = self._reader.read(lambda cursor: cursor.execute(sql, (row,)).fetchone())
        return parse_vector(found[0])

    def record(self, chunk_id: str) -> ChunkRecord | None:
        """The chunk with this id, or None."""
        sql = f"SELECT chunk_id, text, metadata FROM {self._tables.chunks} WHERE chunk_id = %s"
        found = self._reader.read(lambda cursor: cursor.execute(sql, (chunk_id,)).fetchone())
        return None if found is None else ChunkRecord(*found)

    def records_of(self, source: str) -> list[ChunkRecord]:
        """The chunks of one file, in the order they were cut."""
        sql = (
            f"SELECT chunk_id, text, metadata FROM {self._tables.chunks} WHERE source = %s "
            "ORDER BY row_id"
        )
        rows = self._reader.read(lambda cursor: cursor.execute(sql, (source,)).fetchall())
        return [ChunkRecord(*row) for row in rows]
