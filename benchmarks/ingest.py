"""Ingest benchmark: plain LangChain against ragkit on the same documents, in one run.

Baseline: DirectoryLoader + RecursiveCharacterTextSplitter(1000, 200) + HuggingFaceEmbeddings
(the same MiniLM, torch) + FAISS.from_documents + save_local. ragkit: `rag ingest` with its
defaults. Each ingest runs in a fresh process; the first table shows wall time, documents
and corpus tokens (MiniLM word pieces) per second, chunks, peak memory (max RSS) and, on
SciFact, nDCG@10 of the 300 test claims against each index. The second table re-ingests
with ragkit: the unchanged corpus, then with 1% of the files edited, against the first
ingest (plain LangChain has no update: FAISS.from_documents rebuilds everything).

    python benchmarks/ingest.py                      # all 5,183 SciFact abstracts
    python benchmarks/ingest.py --docs 500           # a quick run
    python benchmarks/ingest.py --generated 10000    # 10,000 generated documents, no nDCG
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.evaluation import BeirDataset, load_beir, ndcg_at_k  # noqa: E402

SCIFACT = ROOT.parent / "shared" / "data" / "scifact"
EDITED_SHARE = 0.01

BASELINE = """
import sys
from langchain_community.document_loaders import DirectoryLoader, TextLoader
from langchain_community.vectorstores import FAISS
from langchain_huggingface import HuggingFaceEmbeddings
from langchain_text_splitters import RecursiveCharacterTextSplitter
from app.models.embeddings import resolve_embedding_model
from app.config.settings import DEFAULT_HF_EMBED_MODEL

docs = DirectoryLoader(sys.argv[1], glob="**/*.txt", loader_cls=TextLoader).load()
chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
embeddings = HuggingFaceEmbeddings(model_name=resolve_embedding_model(DEFAULT_HF_EMBED_MODEL))
FAISS.from_documents(chunks, embeddings).save_local(sys.argv[2])
print(len(chunks))
"""

PREPARE_RAGKIT = """
from app.models.embeddings import build_embeddings
from app.config.settings import load_settings
build_embeddings(load_settings()).embed_query("warm up")
"""


@dataclass
class Run:
    """One timed process: seconds, peak RSS in MiB, chunks, and nDCG@10 when measured."""

    name: str
    seconds: float
    peak_mib: float
    chunks: int
    ndcg: str = "-"


def write_scifact(folder: Path, limit: int) -> list[str]:
    """SciFact abstracts as text files (title, blank line, abstract); returns their texts."""
    folder.mkdir(parents=True)
    texts = []
    with gzip.open(SCIFACT / "corpus.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            if len(texts) >= limit:
                break
            row = json.loads(line)
            text = f"{row['title']}\n\n{row['text']}\n"
            (folder / f"{row['_id']}.txt").write_text(text, encoding="utf-8")
            texts.append(text)
    return texts


def write_generated(folder: Path, count: int, seed: int = 9) -> list[str]:
    """``count`` documents of 6 to 14 SciFact sentences drawn at random (fixed seed)."""
    folder.mkdir(parents=True)
    sentences = []
    with gzip.open(SCIFACT / "corpus.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            sentences += [s.strip() + "." for s in json.loads(line)["text"].split(". ") if s]
    chooser = random.Random(seed)
    texts = []
    for number in range(count):
        body = " ".join(chooser.choice(sentences) for _ in range(chooser.randint(6, 14)))
        text = f"Generated document {number}\n\n{body}\n"
        (folder / f"doc{number:05d}.txt").write_text(text, encoding="utf-8")
        texts.append(text)
    return texts


def count_tokens(texts: list[str]) -> int:
    """MiniLM word pieces in the corpus (each document once, no truncation)."""
    from tokenizers import Tokenizer

    from app.config.settings import DEFAULT_HF_EMBED_MODEL
    from app.models.embeddings import resolve_embedding_model

    folder = Path(resolve_embedding_model(DEFAULT_HF_EMBED_MODEL))
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_truncation()
    return sum(len(encoding.ids) for encoding in tokenizer.encode_batch(texts))


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Seconds, peak RSS in MiB (of that process alone) and stdout of a fresh process."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=errors)
        assert process.stdout is not None
        out = process.stdout.read().decode()
        _, status, usage = os.wait4(process.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            errors.seek(0)
            sys.exit(f"{command[:4]} failed:\n{errors.read().decode()[-2000:]}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024, out


def ragkit_ingest(name: str, docs: Path, env: dict[str, str]) -> tuple[Run, dict[str, object]]:
    seconds, peak, out = timed([sys.executable, "-m", "app", "ingest", str(docs), "--json"], env)
    report = json.loads(out)
    return Run(name, seconds, peak, int(report["total_chunks"])), report


def edit_files(docs: Path, share: float, seed: int = 5) -> int:
    """Append a sentence to ``share`` of the files (at least one); returns how many."""
    files = sorted(docs.glob("*.txt"))
    chosen = random.Random(seed).sample(files, max(1, round(len(files) * share)))
    for path in chosen:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write("\nThis abstract was revised after review.\n")
    return len(chosen)


def ranking_ndcg(rankings: dict[str, list[str]], dataset: BeirDataset, docs: set[str]) -> str:
    """Mean nDCG@10 over the queries with a relevant document in the ingested corpus."""
    scores = []
    for qid, relevant in dataset.qrels.items():
        judged = {doc: gain for doc, gain in relevant.items() if doc in docs and gain > 0}
        if judged and qid in rankings:
            scores.append(ndcg_at_k(rankings[qid], judged, 10))
    return f"{sum(scores) / max(len(scores), 1):.4f}"


def _first_seen(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def ragkit_rankings(index: Path, dataset: BeirDataset, mode: str) -> dict[str, list[str]]:
    from app import Rag

    rag = Rag.from_settings(index_dir=index, llm_provider="none", retrieval_mode=mode)
    return {
        qid: _first_seen([Path(s.source).stem for s in rag.retrieve(text, k=100)])
        for qid, text in dataset.queries.items()
    }


def langchain_rankings(folder: Path, dataset: BeirDataset) -> dict[str, list[str]]:
    from langchain_community.vectorstores import FAISS
    from langchain_huggingface import HuggingFaceEmbeddings

    from app.config.settings import DEFAULT_HF_EMBED_MODEL
    from app.models.embeddings import resolve_embedding_model

    embeddings = HuggingFaceEmbeddings(model_name=resolve_embedding_model(DEFAULT_HF_EMBED_MODEL))
    # Our own benchmark output, written a minute ago; loading it is why ragkit never pickles.
    store = FAISS.load_local(str(folder), embeddings, allow_dangerous_deserialization=True)
    return {
        qid: _first_seen(
            [Path(d.metadata["source"]).stem for d in store.similarity_search(text, k=100)]
        )
        for qid, text in dataset.queries.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=10**6, help="SciFact documents to ingest")
    parser.add_argument(
        "--generated", type=int, default=0, help="ingest this many generated documents instead"
    )
    args = parser.parse_args()
    if not (SCIFACT / "corpus.jsonl.gz").is_file():
        sys.exit(f"SciFact is not at {SCIFACT}")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    with tempfile.TemporaryDirectory(prefix="ragkit-bench-") as folder:
        work = Path(folder)
        docs = work / "docs"
        if args.generated:
            texts = write_generated(docs, args.generated)
            corpus = f"{len(texts)} generated documents"
        else:
            texts = write_scifact(docs, args.docs)
            corpus = f"{len(texts)} SciFact abstracts"
        tokens = count_tokens(texts)
        ragkit_env = {**env, "RAG_INDEX_DIR": str(work / "ragkit-index")}
        timed([sys.executable, "-c", PREPARE_RAGKIT], ragkit_env)  # a one-time ONNX export

        ours, report = ragkit_ingest("ragkit (rag ingest)", docs, ragkit_env)
        seconds, peak, out = timed(
            [sys.executable, "-c", BASELINE, str(docs), str(work / "faiss")], env
        )
        baseline = Run("plain LangChain", seconds, peak, int(out.strip().splitlines()[-1]))
        unchanged, unchanged_report = ragkit_ingest("re-ingest, unchanged", docs, ragkit_env)
        edited_files = edit_files(docs, EDITED_SHARE)
        edited, edited_report = ragkit_ingest(
            f"re-ingest, {edited_files} files edited", docs, ragkit_env
        )

        dense_ndcg = ""
        if not args.generated:
            dataset = load_beir(SCIFACT)
            ids = {Path(name).stem for name in os.listdir(docs)}
            baseline.ndcg = ranking_ndcg(langchain_rankings(work / "faiss", dataset), dataset, ids)
            ours.ndcg = ranking_ndcg(
                ragkit_rankings(work / "ragkit-index", dataset, "hybrid"), dataset, ids
            )
            dense_ndcg = ranking_ndcg(
                ragkit_rankings(work / "ragkit-index", dataset, "dense"), dataset, ids
            )

    print(
        f"ingest of {corpus} ({tokens:,} tokens), {os.cpu_count()} CPUs, "
        f"ragkit embedding backend {report['backend']}"
    )
    header = f"{'pipeline':<26}{'seconds':>9}{'docs/s':>9}{'tokens/s':>10}{'chunks':>8}"
    print(f"{header}{'peak MiB':>10}{'nDCG@10':>9}")
    for run in (baseline, ours):
        print(
            f"{run.name:<26}{run.seconds:>9.1f}{len(texts) / run.seconds:>9.1f}"
            f"{tokens / run.seconds:>10.0f}{run.chunks:>8}{run.peak_mib:>10.0f}{run.ndcg:>9}"
        )
    print(f"ragkit is {baseline.seconds / ours.seconds:.2f}x the speed of plain LangChain")
    if dense_ndcg:
        print(
            f"nDCG@10: ragkit hybrid (default) {ours.ndcg}, ragkit dense {dense_ndcg}, "
            f"plain LangChain (dense) {baseline.ndcg}"
        )
    print()
    print(f"{'re-ingest (ragkit)':<32}{'seconds':>9}{'embedded':>10}{'of first ingest':>17}")
    print(f"{'first ingest':<32}{ours.seconds:>9.1f}{report['chunks_embedded']:>10}{'100%':>17}")
    for run, rerun in ((unchanged, unchanged_report), (edited, edited_report)):
        embedded = rerun["chunks_embedded"]
        share = f"{100 * run.seconds / ours.seconds:.1f}%"
        print(f"{run.name:<32}{run.seconds:>9.1f}{embedded:>10}{share:>17}")
    print(f"{'plain LangChain (rebuilds)':<32}{baseline.seconds:>9.1f}{baseline.chunks:>10}")


if __name__ == "__main__":
    main()
