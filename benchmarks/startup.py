"""Start-up benchmark: fresh `rag` processes and warm retrieval, beside plain LangChain.

Fresh processes (median of --repeats runs, wall and CPU seconds): `rag --help`,
`rag status`, and a first `rag ask --retrieve-only`, against a plain LangChain script that
loads a `FAISS.load_local` index with `HuggingFaceEmbeddings` (the same MiniLM) and runs
`similarity_search`. Both run on the sample documents of data/ and on a 100k-chunk index.
Warm retrieval: `Rag.retrieve` p50/p95 over SciFact claims at 100k chunks (hybrid, dense
and bm25), against LangChain's warm `similarity_search` on the same vectors.

The 100k chunks are SciFact sentences recombined (real words for BM25) with synthetic
vectors (`search.synthetic_vectors`): embedding 100k chunks would take hours here, and
timing does not depend on which vectors they are.

    python benchmarks/startup.py
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from search import SCIFACT, scifact_chunks, synthetic_vectors  # noqa: E402

from app.config.settings import DEFAULT_HF_EMBED_MODEL  # noqa: E402
from retrievers.docstore import ChunkRecord  # noqa: E402
from retrievers.manifest import Chunking, EmbeddingSpec  # noqa: E402
from retrievers.snapshot_store import SnapshotStore  # noqa: E402
from retrievers.vector_index import VectorIndex  # noqa: E402

QUESTION = "What port does Ollama listen on?"
EMBEDDING = EmbeddingSpec("huggingface", DEFAULT_HF_EMBED_MODEL, 384)
CHUNKING = Chunking(chunk_size=1000, chunk_overlap=100, context="title")

LANGCHAIN_ASK = """
import sys
from langchain_community.vectorstores import FAISS
from langchain_huggingface import HuggingFaceEmbeddings
from app.models.embeddings import resolve_embedding_model
from app.config.settings import DEFAULT_HF_EMBED_MODEL

embeddings = HuggingFaceEmbeddings(model_name=resolve_embedding_model(DEFAULT_HF_EMBED_MODEL))
store = FAISS.load_local(sys.argv[1], embeddings, allow_dangerous_deserialization=True)
for doc in store.similarity_search(sys.argv[2], k=4):
    print(doc.metadata.get("source"), doc.page_content[:60].replace("\\n", " "))
"""

LANGCHAIN_WARM = (
    LANGCHAIN_ASK.split("for doc in")[0]
    + """
import json, time
questions = json.loads(open(sys.argv[3]).read())
store.similarity_search(questions[0], k=4)
seconds = []
for question in questions:
    began = time.perf_counter()
    store.similarity_search(question, k=4)
    seconds.append(time.perf_counter() - began)
print(json.dumps(seconds))
"""
)

RAGKIT_WARM = """
import json, sys, time
from app import Rag
rag = Rag.from_settings(index_dir=sys.argv[1], llm_provider="none")
questions = json.loads(open(sys.argv[2]).read())
out = {}
for mode in ("hybrid", "dense", "bm25"):
    rag.retrieve(questions[0], mode=mode)
    seconds = []
    for question in questions:
        began = time.perf_counter()
        rag.retrieve(question, mode=mode)
        seconds.append(time.perf_counter() - began)
    out[mode] = seconds
print(json.dumps(out))
"""


def fresh(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system) and stdout of one fresh process."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=errors, stdin=subprocess.DEVNULL
        )
        assert process.stdout is not None
        out = process.stdout.read().decode()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            errors.seek(0)
            sys.exit(f"{command[:4]} failed:\n{errors.read().decode()[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, out


def median_of(command: list[str], env: dict[str, str], repeats: int) -> tuple[float, float]:
    runs = [fresh(command, env)[:2] for _ in range(repeats)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def build_large_index(folder: Path, count: int) -> tuple[list[ChunkRecord], np.ndarray[Any, Any]]:
    records = scifact_chunks(count)
    vectors = synthetic_vectors(count, seed=1)
    SnapshotStore(folder).publish(
        VectorIndex.from_vectors(EMBEDDING, CHUNKING, records, vectors, [], index_type="auto")
    )
    return records, vectors


def build_langchain(folder: Path, records: list[ChunkRecord], vectors: Any) -> None:
    """LangChain's FAISS store of the same chunks and vectors (save_local writes a pickle)."""
    from langchain_community.vectorstores import FAISS
    from langchain_core.embeddings import FakeEmbeddings

    pairs = [(record.text, vectors[i]) for i, record in enumerate(records)]
    metadatas = [dict(record.metadata) for record in records]
    FAISS.from_embeddings(pairs, FakeEmbeddings(size=384), metadatas=metadatas).save_local(
        str(folder)
    )


def claims(count: int) -> list[str]:
    with gzip.open(SCIFACT / "queries.jsonl.gz", "rt", encoding="utf-8") as handle:
        return [json.loads(line)["text"] for line in handle][:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--questions", type=int, default=100)
    args = parser.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("RAG_INDEX_DIR", None)
    python = sys.executable
    rag = [python, "-m", "app"]
    rows: list[tuple[str, str, str, str]] = []

    def add(name: str, chunks: str, wall: float, cpu: float | None) -> None:
        rows.append((name, chunks, f"{wall:.2f} s", f"{cpu:.2f} s" if cpu is not None else ""))

    with tempfile.TemporaryDirectory(prefix="ragkit-startup-") as folder:
        work = Path(folder)
        small, large = work / "sample-index", work / "large-index"
        fresh([*rag, "ingest", str(ROOT / "data")], {**env, "RAG_INDEX_DIR": str(small)})
        sample = SnapshotStore(small).load()
        build_langchain(work / "lc-sample", sample.records, sample.vectors())
        print(f"building {args.chunks} chunks...", file=sys.stderr)
        records, vectors = build_large_index(large, args.chunks)
        build_langchain(work / "lc-large", records, vectors)
        del records, vectors, sample

        add("rag --help", "", *median_of([*rag, "--help"], env, args.repeats))
        for chunks, index, lc in ((25, small, "lc-sample"), (args.chunks, large, "lc-large")):
            label = f"{chunks:,}"
            ragenv = {**env, "RAG_INDEX_DIR": str(index)}
            add("rag status", label, *median_of([*rag, "status"], ragenv, args.repeats))
            ask = [*rag, "ask", QUESTION, "--retrieve-only"]
            add("rag ask --retrieve-only (first)", label, *median_of(ask, ragenv, args.repeats))
            baseline = [python, "-c", LANGCHAIN_ASK, str(work / lc), QUESTION]
            add("LangChain load_local + search", label, *median_of(baseline, env, args.repeats))

        questions = work / "questions.json"
        questions.write_text(json.dumps(claims(args.questions)), encoding="utf-8")
        label = f"{args.chunks:,}"
        out = fresh([python, "-c", RAGKIT_WARM, str(large), str(questions)], env)[2]
        for mode, seconds in json.loads(out.strip().splitlines()[-1]).items():
            p50, p95 = np.percentile(seconds, [50, 95]) * 1000
            rows.append((f"Rag.retrieve warm, {mode}", label, f"{p50:.1f} ms", f"p95 {p95:.1f}"))
        lc_warm = [python, "-c", LANGCHAIN_WARM, str(work / "lc-large"), "", str(questions)]
        seconds = json.loads(fresh(lc_warm, env)[2].strip().splitlines()[-1])
        p50, p95 = np.percentile(seconds, [50, 95]) * 1000
        rows.append(("LangChain similarity_search warm", label, f"{p50:.1f} ms", f"p95 {p95:.1f}"))

    print(f"start-up: median of {args.repeats} fresh processes (wall, CPU); warm: p50, p95")
    print(f"{'what':<36}{'chunks':>9}{'time':>11}{'CPU / p95':>12}")
    for name, chunks, wall, cpu in rows:
        print(f"{name:<36}{chunks:>9}{wall:>11}{cpu:>12}")


if __name__ == "__main__":
    main()
