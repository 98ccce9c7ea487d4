"""Server benchmark: ``rag serve`` under concurrent searches, during an ingest, and its first token.

Indexes SciFact abstracts (one file each, cached in ~/.cache/ragkit/benchmarks), starts a real
``rag serve`` on 127.0.0.1 and measures, in one run:

1. POST /api/search with 1, 8 and 32 concurrent clients: requests per second, p50 and p99
   latency, failures. Baseline: ``Rag.retrieve`` in this process, one thread, no HTTP.
2. The same at 8 clients while POST /api/ingest indexes 1,000 new files: failures, and
   whether any reader saw a half-built index (the file count seen by /api/status and every
   search result must be the old index or the whole new one, never in between).
3. Time to the first streamed token of POST /api/ask (warm server) against ``rag ask`` (a new
   process: Python start, models, index), on the same questions.

    python benchmarks/serve.py                  # 3,000 indexed abstracts, 300 requests a level
    python benchmarks/serve.py --docs 5183 --requests 1000
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import httpx  # noqa: E402 - after the path and env setup

from tests.support.rag_server import rag_server  # noqa: E402

SCIFACT = ROOT.parent / "shared" / "data" / "scifact"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ragkit" / "benchmarks"
NEW_FILES = 1000
LEVELS = (1, 8, 32)
K = 5


def scifact_docs() -> list[tuple[str, str]]:
    """(id, title and abstract) of every SciFact document."""
    docs = []
    with gzip.open(SCIFACT / "corpus.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            docs.append((row["_id"], f"{row.get('title', '')}\n\n{row['text']}"))
    return docs


def claims() -> list[str]:
    with gzip.open(SCIFACT / "queries.jsonl.gz", "rt", encoding="utf-8") as handle:
        return [json.loads(line)["text"] for line in handle]


def write_files(folder: Path, docs: list[tuple[str, str]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for doc_id, text in docs:
        (folder / f"{doc_id}.txt").write_text(text, encoding="utf-8")


def environment(index: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_") and k != "OLLAMA_HOST"}
    env.update(
        HF_HUB_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        RAG_INDEX_DIR=str(index),
        OLLAMA_HOST="127.0.0.1:9",
        RAG_LLM_DISCOVER="0",
        RAG_TOP_K=str(K),
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


def cached_index(docs: list[tuple[str, str]]) -> Path:
    """The index of ``docs``, built once with ``rag ingest`` and kept in the cache."""
    index = CACHE / f"serve-scifact-{len(docs)}"
    if index.is_dir() and any(index.iterdir()):
        return index
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "scifact"
        write_files(corpus, docs)
        print(f"indexing {len(docs)} SciFact abstracts once into {index} ...", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-m", "app", "ingest", str(corpus)],
            env=environment(index),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return index


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def load(call: Callable[[str], bool], questions: list[str], clients: int, requests: int) -> dict:
    """Run ``requests`` calls over ``clients`` threads: rps, p50, p99 (ms), failures."""
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()

    def one(number: int) -> None:
        nonlocal failures
        started = time.perf_counter()
        ok = call(questions[number % len(questions)])
        elapsed = time.perf_counter() - started
        with lock:
            latencies.append(elapsed)
            failures += not ok

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(requests)))
    wall = time.perf_counter() - started
    return {
        "rps": requests / wall,
        "p50": 1000 * statistics.median(latencies),
        "p99": 1000 * percentile(latencies, 0.99),
        "failed": failures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=3000, help="SciFact abstracts indexed")
    parser.add_argument("--requests", type=int, default=300, help="searches per level")
    parser.add_argument("--asks", type=int, default=3, help="questions for first-token times")
    args = parser.parse_args()

    every = scifact_docs()
    if args.docs + NEW_FILES > len(every):
        parser.error(f"--docs may be at most {len(every) - NEW_FILES}")
    indexed, new = every[: args.docs], every[args.docs : args.docs + NEW_FILES]
    questions = claims()
    source_index = cached_index(indexed)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        index = work / "index"
        shutil.copytree(source_index, index)
        roots = work / "roots"
        write_files(roots / "new", new)
        env = environment(index, RAG_SERVE_ROOTS=str(roots), XDG_DATA_HOME=str(work / "data"))
        rows = baseline_rows(env, questions, args.requests)
        with rag_server(env, work / "server.log") as base:
            rows += search_rows(base, questions, args.requests)
            during, consistency = ingest_rows(base, questions, args.requests, args.docs)
            rows += during
            firsts = first_tokens(base, env, questions[: args.asks])
    print_tables(rows, consistency, firsts, args)


def baseline_rows(env: dict[str, str], questions: list[str], requests: int) -> list[dict]:
    """``Rag.retrieve`` in this process, one thread: the cost of search without HTTP."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        from app import Rag

        rag = Rag.from_settings()
        rag.retrieve(questions[0])
        result = load(lambda q: bool(rag.retrieve(q)), questions, 1, requests)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return [{"what": "Rag.retrieve, in process (baseline)", "clients": 1, **result}]


def searcher(base: str) -> Callable[[str], bool]:
    local = threading.local()

    def call(question: str) -> bool:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=base, timeout=60)
        response = local.client.post("/api/search", json={"question": question, "k": K})
        return response.status_code == 200 and len(response.json()["sources"]) == K

    return call


def search_rows(base: str, questions: list[str], requests: int) -> list[dict]:
    call = searcher(base)
    call(questions[0])
    return [
        {"what": "POST /api/search", "clients": clients, **load(call, questions, clients, requests)}
        for clients in LEVELS
    ]


def ingest_rows(
    base: str, questions: list[str], requests: int, old_files: int
) -> tuple[list[dict], dict[str, Any]]:
    """Searches at 8 clients while 1,000 new files are ingested; what readers saw."""
    seen_counts: set[int] = set()
    stop = threading.Event()

    def watch() -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            while not stop.is_set():
                seen_counts.add(client.get("/api/status").json()["files"])
                time.sleep(0.05)

    with httpx.Client(base_url=base, timeout=60) as client:
        job = client.post("/api/ingest", json={"path": "new"}).json()
        watcher = threading.Thread(target=watch)
        watcher.start()
        call = searcher(base)
        rounds = []
        started = time.perf_counter()
        while client.get(f"/api/jobs/{job['id']}").json()["state"] == "running":
            rounds.append(load(call, questions, 8, max(40, requests // 4)))
        ingest_seconds = time.perf_counter() - started
        stop.set()
        watcher.join()
        final = client.get(f"/api/jobs/{job['id']}").json()
    total = sum(1 for _ in rounds) or 1
    merged = {
        "rps": statistics.mean(r["rps"] for r in rounds) if rounds else 0.0,
        "p50": statistics.median(r["p50"] for r in rounds) if rounds else 0.0,
        "p99": max((r["p99"] for r in rounds), default=0.0),
        "failed": sum(r["failed"] for r in rounds),
    }
    consistency = {
        "job": final["state"],
        "summary": final["summary"],
        "ingest_seconds": ingest_seconds,
        "rounds": total,
        "file_counts_seen": sorted(seen_counts),
        "half_built": sorted(seen_counts - {old_files, old_files + NEW_FILES}),
    }
    row = {"what": f"POST /api/search during an ingest of {NEW_FILES:,} files", "clients": 8}
    return [{**row, **merged}], consistency


def first_tokens(base: str, env: dict[str, str], questions: list[str]) -> dict[str, float]:
    """Median seconds to the first answer text: the warm server's stream vs ``rag ask``."""
    served = []
    with httpx.Client(base_url=base, timeout=120) as client:
        for question in questions:
            started = time.perf_counter()
            with client.stream(
                "POST",
                "/api/ask",
                json={"question": question},
                headers={"Accept": "text/event-stream"},
            ) as response:
                for line in response.iter_lines():
                    if line.startswith("event: token"):
                        served.append(time.perf_counter() - started)
                        break
    cli = []
    for question in questions:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "ask", question],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert process.stdout is not None
        process.stdout.read(1)
        cli.append(time.perf_counter() - started)
        process.stdout.read()
        process.wait(timeout=120)
    return {"serve": statistics.median(served), "cli": statistics.median(cli)}


def print_tables(
    rows: list[dict], consistency: dict[str, Any], firsts: dict[str, float], args: Any
) -> None:
    print(f"SciFact: {args.docs:,} abstracts indexed, top {K}, {args.requests} searches a level")
    print()
    print("| what | clients | requests/s | p50 ms | p99 ms | failed |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['what']} | {row['clients']} | {row['rps']:.1f} | {row['p50']:.1f} | "
            f"{row['p99']:.1f} | {row['failed']} |"
        )
    print()
    print(
        f"ingest of {NEW_FILES:,} files: {consistency['job']} in "
        f"{consistency['ingest_seconds']:.1f} s ({consistency['summary']})"
    )
    print(
        f"file counts readers saw: {consistency['file_counts_seen']}; "
        f"half-built states seen: {len(consistency['half_built'])}"
    )
    print()
    print("| first answer text | median seconds |")
    print("|---|---:|")
    print(f"| POST /api/ask, streamed (warm server) | {firsts['serve']:.2f} |")
    print(f"| `rag ask` (new process) | {firsts['cli']:.2f} |")


if __name__ == "__main__":
    main()
