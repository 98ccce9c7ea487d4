"""Search benchmark: ragkit's index types against plain LangChain FAISS, same vectors, same run.

For each size the same vectors go into every ragkit index type (flat, hnsw, ivf-sq8; a
snapshot written by ``SnapshotStore.publish``) and into LangChain's FAISS vector store
(``FAISS.from_embeddings``: an ``IndexFlatL2``, written by ``save_local``). A fresh process
then loads each index and runs the queries one at a time (``VectorIndex.search`` and
``similarity_search_by_vector``, top 10), reporting latency, its peak RSS and the ids found;
recall@10 is measured against exact search. LangChain runs twice: as it comes, and with
OMP_NUM_THREADS=1 (ragkit searches a single query in one thread, see ``vector_index``).
Dense vector search only (no BM25, no query
embedding: ``benchmarks/startup.py`` measures the whole retrieval). Both docstores hold the
same chunk texts of real SciFact words, 800 to 1,300 characters each, so peak memory
includes what a real index's texts weigh.

10k uses real MiniLM embeddings of SciFact (abstracts cut into sentence pairs; the 300
claims as queries), embedded once and cached in ~/.cache/ragkit/benchmarks. 100k and 1M use
synthetic vectors (``synthetic_vectors``) built to resemble them.

    python benchmarks/search.py                        # 10k, 100k and 1M chunks
    python benchmarks/search.py --sizes 10000,100000   # quicker
    python benchmarks/search.py --all-types            # hnsw at 1M too (15 minutes to build)
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from retrievers.docstore import ChunkRecord  # noqa: E402
from retrievers.index_types import (  # noqa: E402
    AUTO_HNSW_BELOW,
    INDEX_TYPES,
    build_faiss_index,
    index_spec_for,
)
from retrievers.manifest import Chunking, EmbeddingSpec  # noqa: E402
from retrievers.snapshot_store import SnapshotStore  # noqa: E402
from retrievers.vector_index import VectorIndex, normalize  # noqa: E402

SCIFACT = ROOT.parent / "shared" / "data" / "scifact"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ragkit" / "benchmarks"
DIMENSION = 384
K = 10
CHUNK_CHARS = 800
EMBEDDING = EmbeddingSpec("huggingface", "sentence-transformers/all-MiniLM-L6-v2", DIMENSION)
CHUNKING = Chunking(chunk_size=CHUNK_CHARS, chunk_overlap=0)
Array = np.ndarray[Any, Any]


def scifact_vectors(count: int) -> tuple[Array, Array]:
    """MiniLM vectors of ``count`` SciFact sentence pairs and of the 300 claims (cached)."""
    corpus_file = CACHE / f"scifact-minilm-{count}.npy"
    query_file = CACHE / "scifact-minilm-claims.npy"
    if not corpus_file.exists() or not query_file.exists():
        from sentence_transformers import SentenceTransformer

        from app.models.embeddings import resolve_embedding_model

        texts: list[str] = []
        with gzip.open(SCIFACT / "corpus.jsonl.gz", "rt", encoding="utf-8") as handle:
            for line in handle:
                sentences = re.split(r"(?<=[.!?])\s+", json.loads(line)["text"])
                pairs = (" ".join(sentences[i : i + 2]) for i in range(0, len(sentences), 2))
                texts.extend(pair for pair in pairs if len(pair) > 40)
                if len(texts) >= count:
                    break
        with gzip.open(SCIFACT / "queries.jsonl.gz", "rt", encoding="utf-8") as handle:
            claims = [json.loads(line)["text"] for line in handle][:300]
        print(f"embedding {count} SciFact passages once (cached)...", file=sys.stderr)
        model = SentenceTransformer(resolve_embedding_model(EMBEDDING.model), device="cpu")
        CACHE.mkdir(parents=True, exist_ok=True)
        for path, items in ((corpus_file, texts[:count]), (query_file, claims)):
            vectors = model.encode(items, batch_size=64, normalize_embeddings=True)
            np.save(path, np.asarray(vectors, dtype=np.float32), allow_pickle=False)
    return np.load(corpus_file, allow_pickle=False), np.load(query_file, allow_pickle=False)


def scifact_chunks(count: int, min_chars: int = 0) -> list[ChunkRecord]:
    """``count`` chunks of three SciFact sentences each (more up to ``min_chars``), titled.

    Real words, so BM25 and the docstore see text of the size real chunks have.
    """
    abstracts = []
    with gzip.open(SCIFACT / "corpus.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            abstracts.append((row["title"], re.split(r"(?<=[.!?])\s+", row["text"])))
    rng = np.random.default_rng(0)
    records = []
    for i in range(count):
        title, sentences = abstracts[i % len(abstracts)]
        others = abstracts[int(rng.integers(len(abstracts)))][1]
        text = " ".join(sentences[:2] + others[-1:])
        while len(text) < min_chars:
            text += " " + " ".join(abstracts[int(rng.integers(len(abstracts)))][1][:3])
        metadata = {"source": f"doc{i // 3}.txt", "page": None, "chunk": i % 3, "title": title}
        records.append(ChunkRecord(f"c{i}", text, metadata))
    return records


def synthetic_vectors(count: int, seed: int, spread: float = 1.0) -> Array:
    """Unit vectors around ``count // 1000`` topics in a 64-dimensional subspace, plus noise.

    Text embeddings are far from uniform: they crowd around topics in a space of low
    intrinsic dimension. Queries use ``spread=1.5`` (less like any one chunk), which gives
    top-1 and 10th cosines near MiniLM's on SciFact (0.61 / 0.55 here, 0.62 / 0.48 there).
    """
    subspace, topics_count = 64, max(count // 1000, 100)
    topics = np.random.default_rng(12345).normal(size=(topics_count, subspace)).astype("f4")
    lift = np.random.default_rng(999).normal(size=(subspace, DIMENSION)).astype("f4")
    lift /= np.sqrt(subspace)
    rng = np.random.default_rng(seed)
    out = np.empty((count, DIMENSION), dtype=np.float32)
    for start in range(0, count, 100_000):
        rows = min(count, start + 100_000) - start
        latent = topics[rng.integers(0, topics_count, rows)]
        latent = latent + spread * rng.normal(size=(rows, subspace)).astype("f4")
        noise = 0.4 * rng.normal(size=(rows, DIMENSION)).astype("f4")
        out[start : start + rows] = normalize(latent @ lift + noise)
    return out


def dataset(count: int, queries: int) -> tuple[str, Array, Array]:
    """(label, corpus vectors, query vectors) for one size."""
    if count <= 10_000 and (SCIFACT / "corpus.jsonl.gz").is_file():
        corpus, claims = scifact_vectors(count)
        return "SciFact MiniLM", corpus, claims[:queries]
    corpus = synthetic_vectors(count, seed=1)
    topics_for_queries = synthetic_vectors(queries, seed=2, spread=1.5)
    return "synthetic", corpus, topics_for_queries


def chunk_records(count: int) -> list[ChunkRecord]:
    """Chunks of real SciFact text about as long as ragkit's (RAG_CHUNK_SIZE 1000), ids 0..n-1.

    The docstore then weighs what a real index's does; one-word texts would hide its memory.
    """
    if not (SCIFACT / "corpus.jsonl.gz").is_file():
        return [ChunkRecord(str(i), f"chunk {i}", {}) for i in range(count)]
    return [
        ChunkRecord(str(i), record.text, record.metadata)
        for i, record in enumerate(scifact_chunks(count, min_chars=CHUNK_CHARS))
    ]


def exact_neighbours(corpus: Array, queries: Array) -> Array:
    import faiss

    flat = faiss.IndexFlatIP(DIMENSION)
    flat.add(corpus)
    return flat.search(queries, K)[1]


def write_ragkit(kind: str, corpus: Array, records: list[ChunkRecord], folder: Path) -> float:
    """A ragkit snapshot of one index type (dense part only); returns the build seconds."""
    started = time.perf_counter()
    spec = index_spec_for(kind, len(corpus))
    store = build_faiss_index(spec, corpus)
    seconds = time.perf_counter() - started
    index = VectorIndex(
        EMBEDDING, CHUNKING, records, store, [], stored_vectors=corpus, index_spec=spec
    )
    SnapshotStore(folder).publish(index)
    return seconds


class _QueryOnly:
    """LangChain needs an Embeddings object; the benchmark passes query vectors directly."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        raise NotImplementedError

    def embed_query(self, text: str) -> list[float]:
        raise NotImplementedError


def langchain_build(corpus_file: str, texts_file: str, folder: str) -> None:
    from langchain_community.vectorstores import FAISS

    corpus = np.load(corpus_file, allow_pickle=False)
    with open(texts_file, encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    pairs = [(row["text"], corpus[i]) for i, row in enumerate(rows)]
    metadatas = [row["metadata"] for row in rows]
    ids = [str(i) for i in range(len(corpus))]
    started = time.perf_counter()
    store = FAISS.from_embeddings(pairs, _QueryOnly(), metadatas=metadatas, ids=ids)  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    store.save_local(folder)
    print(json.dumps({"build": seconds}))


def search_worker(kind: str, folder: str, query_file: str) -> None:
    """Load one index in this fresh process, then time single queries."""
    queries = np.load(query_file, allow_pickle=False)
    started = time.perf_counter()
    if kind == "langchain":
        from langchain_community.vectorstores import FAISS

        store = FAISS.load_local(folder, _QueryOnly(), allow_dangerous_deserialization=True)  # type: ignore[arg-type]

        def search(query: Array) -> list[int]:
            docs = store.similarity_search_by_vector(query.tolist(), k=K)
            return [int(str(doc.id)) for doc in docs]

        index_file = Path(folder) / "index.faiss"
    else:
        index = SnapshotStore(Path(folder)).load()

        def search(query: Array) -> list[int]:
            return [int(hit.record.id) for hit in index.search(query, K)]

        from retrievers.snapshots import current_snapshot

        index_file = current_snapshot(Path(folder)) / "index.faiss"
    load = time.perf_counter() - started
    for query in queries[:5]:
        search(query)
    found, seconds = [], []
    for query in queries:
        began = time.perf_counter()
        found.append(search(query))
        seconds.append(time.perf_counter() - began)
    peak = peak_rss_mib()
    print(
        json.dumps(
            {
                "load": load,
                "p50": float(np.percentile(seconds, 50)) * 1000,
                "p95": float(np.percentile(seconds, 95)) * 1000,
                "found": found,
                "peak": peak,
                "index_mib": index_file.stat().st_size / 2**20,
            }
        )
    )


def peak_rss_mib() -> float:
    """This process's peak resident memory since exec (ru_maxrss would include the parent's)."""
    status = Path("/proc/self/status").read_text(encoding="utf-8")
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]


def run_worker(*args: str, threads: int | None = None) -> dict[str, Any]:
    env = {**os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {})}
    result = subprocess.run(
        [sys.executable, __file__, "--worker", *args], capture_output=True, text=True, env=env
    )
    if result.returncode != 0:
        sys.exit(f"worker {args[:2]} failed:\n{result.stderr[-3000:]}")
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def recall(found: list[list[int]], truth: Array) -> float:
    return float(
        np.mean([len(set(f) & set(t.tolist())) / K for f, t in zip(found, truth, strict=True)])
    )


def measure_size(
    count: int, queries: int, kinds: list[str], work: Path, all_types: bool
) -> list[tuple[Any, ...]]:
    label, corpus, query_vectors = dataset(count, queries)
    truth = exact_neighbours(corpus, query_vectors)
    query_file = work / f"queries-{count}.npy"
    np.save(query_file, query_vectors, allow_pickle=False)
    records = chunk_records(count)
    texts_file = work / f"texts-{count}.jsonl"
    with open(texts_file, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps({"text": record.text, "metadata": record.metadata}) + "\n")
    rows = []
    for kind in kinds:
        if kind == "hnsw" and count >= AUTO_HNSW_BELOW and not all_types:
            continue  # 15 minutes to build at 1M here, and its float vectors exceed 1 GiB
        folder = work / f"ragkit-{kind}-{count}"
        build = write_ragkit(kind, corpus, records, folder)
        result = run_worker("ragkit", str(folder), str(query_file))
        rows.append((count, label, f"ragkit {kind}", build, result, recall(result["found"], truth)))
        print(f"  {count} {kind} done", file=sys.stderr)
    del records
    corpus_file = work / f"corpus-{count}.npy"
    np.save(corpus_file, corpus, allow_pickle=False)
    del corpus
    folder = work / f"langchain-{count}"
    built = run_worker("langchain-build", str(corpus_file), str(texts_file), str(folder))
    result = run_worker("langchain", str(folder), str(query_file))
    hit_rate = recall(result["found"], truth)
    rows.append((count, label, "LangChain FAISS", built["build"], result, hit_rate))
    # ragkit searches one query in one thread; the same for LangChain, by environment.
    result = run_worker("langchain", str(folder), str(query_file), threads=1)
    hit_rate = recall(result["found"], truth)
    rows.append((count, label, "LangChain 1 thread", built["build"], result, hit_rate))
    return rows


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        kind, *rest = sys.argv[2:]
        if kind == "langchain-build":
            langchain_build(*rest)
        else:
            search_worker(kind, *rest)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--types", default=",".join(INDEX_TYPES))
    parser.add_argument(
        "--all-types", action="store_true", help="also hnsw above 250k chunks (slow to build)"
    )
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    kinds = args.types.split(",")
    rows = []
    with tempfile.TemporaryDirectory(prefix="ragkit-search-") as folder:
        for count in sizes:
            rows += measure_size(count, args.queries, kinds, Path(folder), args.all_types)
    print(f"dense search, top {K}, {args.queries} single queries, {os.cpu_count()} CPUs")
    header = (
        f"{'chunks':>9}  {'vectors':<15}{'index':<18}{'build s':>8}{'load s':>8}"
        f"{'p50 ms':>8}{'p95 ms':>8}{'recall@10':>10}{'index MiB':>10}{'peak RSS MiB':>13}"
    )
    print(header)
    for count, label, name, build, result, hit_rate in rows:
        print(
            f"{count:>9,}  {label:<15}{name:<18}{build:>8.1f}{result['load']:>8.2f}"
            f"{result['p50']:>8.2f}{result['p95']:>8.2f}{hit_rate:>10.3f}"
            f"{result['index_mib']:>10.0f}{result['peak']:>13.0f}"
        )


if __name__ == "__main__":
    main()
