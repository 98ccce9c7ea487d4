"""Ingest benchmark: plain LangChain against ragkit on the same SciFact documents, same run.

Baseline: DirectoryLoader + RecursiveCharacterTextSplitter(1000, 200) + HuggingFaceEmbeddings
(the same MiniLM) + FAISS.from_documents + save_local. ragkit: `rag ingest` with its
defaults. Each side runs in a fresh process; the table shows wall time, documents per
second, chunks and peak memory (max RSS).

    python benchmarks/ingest.py --docs 1000
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCIFACT = ROOT.parent / "shared" / "data" / "scifact" / "corpus.jsonl.gz"

BASELINE = """
import sys
from langchain_community.document_loaders import DirectoryLoader, TextLoader
from langchain_community.vectorstores import FAISS
from langchain_huggingface import HuggingFaceEmbeddings
from langchain_text_splitters import RecursiveCharacterTextSplitter
from app.providers import resolve_embedding_model
from app.settings import DEFAULT_HF_EMBED_MODEL

docs = DirectoryLoader(sys.argv[1], glob="**/*.txt", loader_cls=TextLoader).load()
chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
embeddings = HuggingFaceEmbeddings(model_name=resolve_embedding_model(DEFAULT_HF_EMBED_MODEL))
FAISS.from_documents(chunks, embeddings).save_local(sys.argv[2])
print(len(chunks))
"""


def write_corpus(folder: Path, limit: int) -> int:
    """SciFact abstracts as text files (title, blank line, abstract)."""
    folder.mkdir(parents=True)
    count = 0
    with gzip.open(SCIFACT, "rt", encoding="utf-8") as handle:
        for line in handle:
            if count >= limit:
                break
            row = json.loads(line)
            text = f"{row['title']}\n\n{row['text']}\n"
            (folder / f"{row['_id']}.txt").write_text(text, encoding="utf-8")
            count += 1
    return count


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Seconds, peak RSS in MiB (of that process alone) and stdout of a fresh process."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=errors)
        assert process.stdout is not None
        out = process.stdout.read().decode()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            errors.seek(0)
            sys.exit(f"{command[:4]} failed:\n{errors.read().decode()[-2000:]}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000, help="SciFact documents to ingest")
    args = parser.parse_args()
    if not SCIFACT.is_file():
        sys.exit(f"SciFact is not at {SCIFACT}")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    with tempfile.TemporaryDirectory(prefix="ragkit-bench-") as folder:
        work = Path(folder)
        docs = write_corpus(work / "docs", args.docs)
        rows = []
        seconds, peak, out = timed(
            [sys.executable, "-m", "app", "ingest", str(work / "docs"), "--json"],
            {**env, "RAG_INDEX_DIR": str(work / "ragkit-index")},
        )
        rows.append(("ragkit (rag ingest)", seconds, peak, json.loads(out)["total_chunks"]))
        seconds, peak, out = timed(
            [sys.executable, "-c", BASELINE, str(work / "docs"), str(work / "faiss")], env
        )
        rows.append(("plain LangChain", seconds, peak, int(out.strip().splitlines()[-1])))
    print(f"ingest of {docs} SciFact abstracts, {os.cpu_count()} CPUs")
    print(f"{'pipeline':<22}{'seconds':>9}{'docs/s':>9}{'chunks':>9}{'peak MiB':>10}")
    for name, seconds, peak, chunks in rows:
        print(f"{name:<22}{seconds:>9.1f}{docs / seconds:>9.1f}{chunks:>9}{peak:>10.0f}")
    baseline, ours = rows[1][1], rows[0][1]
    print(f"ragkit is {baseline / ours:.2f}x the speed of plain LangChain")


if __name__ == "__main__":
    main()
