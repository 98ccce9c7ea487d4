"""Retrieval evaluation on BEIR-format datasets: nDCG@10, Recall@10/100, MRR@10.

Metric functions are pure; ``evaluate_retrieval`` indexes a corpus in a temporary folder
with ragkit's own pipeline and times each stage.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import math
import re
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from langchain_core.documents import Document

from app.config.settings import Settings
from app.errors import IndexMismatchError, IndexNotFoundError, InputPathError
from app.ingestion.indexing import (
    build_index,
    chunk_records,
    chunking_of,
    embedded_texts,
    made_otherwise,
)
from app.models.embedding_cache import embed_texts
from app.retrieval import build_retriever, local_store, postgres_store
from retrievers.manifest import Chunking
from retrievers.store import IndexChanges
from retrievers.vector_index import VectorIndex

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings
    from langchain_core.language_models import BaseChatModel

    from chains.qa import AnswerStyle
    from retrievers.hybrid import CandidateSearch
    from retrievers.modes import Mode

Qrels = Mapping[str, Mapping[str, int]]


@dataclass(frozen=True)
class BeirDataset:
    """A corpus ({id: (title, text)}), queries ({id: text}) and relevance judgements."""

    corpus: dict[str, tuple[str, str]]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def dcg(gains: Sequence[float]) -> float:
    """Discounted cumulative gain: sum of gain / log2(rank + 1)."""
    return sum(gain / math.log2(rank + 1) for rank, gain in enumerate(gains, start=1))


def ndcg_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int = 10) -> float:
    """nDCG@k with graded relevance; 1.0 is the ideal order."""
    ideal = dcg(sorted((float(g) for g in relevant.values() if g > 0), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    return dcg([float(relevant.get(doc, 0)) for doc in ranked[:k]]) / ideal


def recall_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """Share of the relevant documents found in the first ``k``."""
    wanted = {doc for doc, gain in relevant.items() if gain > 0}
    if not wanted:
        return 0.0
    return len(wanted & set(ranked[:k])) / len(wanted)


def mrr_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int = 10) -> float:
    """Reciprocal rank of the first relevant document within ``k`` (0 when none)."""
    for rank, doc in enumerate(ranked[:k], start=1):
        if relevant.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def score_rankings(
    rankings: Mapping[str, Sequence[str]], qrels: Qrels, k: int = 10
) -> dict[str, float]:
    """Mean nDCG@k, Recall@k, Recall@100 and MRR@k over the judged queries."""
    judged = [qid for qid, relevant in qrels.items() if any(g > 0 for g in relevant.values())]
    names = (f"ndcg@{k}", f"recall@{k}", "recall@100", f"mrr@{k}")
    totals = dict.fromkeys(names, 0.0)
    for qid in judged:
        ranked, relevant = rankings.get(qid, []), qrels[qid]
        totals[names[0]] += ndcg_at_k(ranked, relevant, k)
        totals[names[1]] += recall_at_k(ranked, relevant, k)
        totals[names[2]] += recall_at_k(ranked, relevant, 100)
        totals[names[3]] += mrr_at_k(ranked, relevant, k)
    return {name: total / max(len(judged), 1) for name, total in totals.items()}


def load_beir(folder: Path, split: str = "test") -> BeirDataset:
    """Read corpus.jsonl, queries.jsonl (plain or .gz) and qrels/SPLIT.tsv."""
    corpus = {
        str(row["_id"]): (str(row.get("title") or ""), str(row.get("text") or ""))
        for row in _jsonl(folder, "corpus.jsonl")
    }
    queries = {str(row["_id"]): str(row["text"]) for row in _jsonl(folder, "queries.jsonl")}
    qrels: dict[str, dict[str, int]] = {}
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        raise InputPathError(f"no relevance judgements at {qrels_path}")
    with open(qrels_path, encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            parts = line.rstrip("\n").split("\t")
            if number == 0 and not parts[-1].lstrip("-").isdigit():
                continue
            if len(parts) >= 3:
                qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    return BeirDataset(corpus, {q: t for q, t in queries.items() if q in qrels}, qrels)


def corpus_from_documents(
    folder: Path, max_file_bytes: int = 50 * 1024 * 1024
) -> list[dict[str, str]]:
    """BEIR corpus rows of the documents in ``folder``, read by ragkit's loader.

    One row per file, or per page of a PDF (``_id`` is ``file`` or ``file:page``), so that a
    question-answer set over your own documents can be judged and evaluated by ``rag eval``.
    """
    from app.ingestion.loading import load_paths

    rows = []
    for loaded in load_paths([folder], max_file_bytes).files:
        for doc in loaded.documents:
            page = doc.metadata.get("page")
            doc_id = f"{loaded.source}:{page}" if page is not None else loaded.source
            title = str(doc.metadata.get("title") or "")
            rows.append({"_id": doc_id, "title": title, "text": doc.page_content})
    return sorted(rows, key=lambda row: row["_id"])


def _jsonl(folder: Path, name: str) -> Iterator[dict[str, Any]]:
    plain, packed = folder / name, folder / f"{name}.gz"
    handle: IO[str]
    if plain.is_file():
        handle = open(plain, encoding="utf-8")  # noqa: SIM115 - closed below
    elif packed.is_file():
        handle = gzip.open(packed, "rt", encoding="utf-8")  # noqa: SIM115 - closed below
    else:
        raise InputPathError(f"no {name} or {name}.gz in {folder}")
    with handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


@dataclass
class EvalReport:
    """Metrics and the seconds each stage took."""

    mode: str
    documents: int
    chunks: int
    queries: int
    metrics: dict[str, float]
    seconds: dict[str, float] = field(default_factory=dict)

    def table(self) -> str:
        """The report as a small aligned table."""
        lines = [
            f"mode {self.mode}: {self.documents} documents, {self.chunks} chunks, "
            f"{self.queries} queries",
            *(f"  {name:<11} {value:.4f}" for name, value in self.metrics.items()),
            *(f"  {name + ' s':<11} {value:.1f}" for name, value in self.seconds.items()),
        ]
        return "\n".join(lines)


def build_eval_index(
    dataset: BeirDataset,
    settings: Settings,
    embeddings: Embeddings,
    on_progress: Callable[[int, int], None] | None = None,
) -> VectorIndex:
    """Index the corpus with ragkit's splitter, chunk context, embeddings and BM25."""
    documents = [
        Document(
            page_content=text,
            metadata={
                "source": doc_id,
                "path": doc_id,
                "title": title,
                "page": None,
                "content_hash": doc_id,
            },
        )
        for doc_id, (title, text) in dataset.corpus.items()
        if text.strip() or title.strip()
    ]
    records = chunk_records(documents, settings)
    texts = embedded_texts(records, chunking_of(settings))
    return build_index(settings, records, embed_texts(embeddings, texts, on_progress), [])


def evaluate_retrieval(
    dataset_dir: Path,
    settings: Settings,
    load_embeddings: Callable[[], Embeddings],
    modes: Sequence[Mode],
    *,
    index_dir: Path | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    k: int = 10,
) -> tuple[list[EvalReport], VectorIndex]:
    """Index once (or load ``index_dir``), then rank every query under each mode.

    The embedding model is loaded only after a kept index passed its check, so a refused
    one costs no model load (nor a first ONNX export).
    """
    started = time.perf_counter()
    dataset = load_beir(dataset_dir)
    loaded = time.perf_counter()
    index = _eval_index(dataset, settings, load_embeddings, index_dir, on_progress)
    searched: VectorIndex | CandidateSearch = index
    if settings.store == "postgres":
        searched = _in_postgres(index, settings, dataset_dir)
    indexed = time.perf_counter()
    embeddings = load_embeddings()  # loaded once: the loader keeps the model (Rag.embeddings)
    reports = []
    for mode in modes:
        retriever = build_retriever(
            settings, searched, embeddings, k=100, mode=mode, candidates=200
        )
        query_start = time.perf_counter()
        rankings = {
            qid: _documents_in_order(index, retriever, text)
            for qid, text in dataset.queries.items()
        }
        seconds = {
            "load": loaded - started,
            "index": indexed - loaded,
            "queries": time.perf_counter() - query_start,
        }
        reports.append(
            EvalReport(
                mode=mode,
                documents=len(dataset.corpus),
                chunks=len(index),
                queries=len(dataset.queries),
                metrics=score_rankings(rankings, dataset.qrels, k),
                seconds=seconds,
            )
        )
    return reports, index


def _eval_index(
    dataset: BeirDataset,
    settings: Settings,
    load_embeddings: Callable[[], Embeddings],
    index_dir: Path | None,
    on_progress: Callable[[int, int], None] | None,
) -> VectorIndex:
    store = local_store(index_dir) if index_dir is not None else None
    if store is not None:
        with contextlib.suppress(IndexNotFoundError):
            stored = store.load()
            _require_made_alike(stored, dataset, settings, index_dir)
            return stored
    index = build_eval_index(dataset, settings, load_embeddings(), on_progress)
    if store is not None:
        store.publish(index)
    else:
        # Written once anyway, so an evaluation times the same work as an ingest.
        with tempfile.TemporaryDirectory(prefix="ragkit-eval-") as folder:
            local_store(Path(folder) / "index").publish(index)
    return index


def compared_index_dir(index_dir: Path, model: str) -> Path:
    """Where ``--compare-model`` keeps its corpus index: beside ``index_dir``, one per weights."""
    from app.models.embeddings import resolve_embedding_model
    from app.models.onnx_export import model_identity

    return index_dir.with_name(
        f"{index_dir.name}-{model_identity(model, resolve_embedding_model(model))}"
    )


def _require_made_alike(
    index: VectorIndex, dataset: BeirDataset, settings: Settings, index_dir: Path | None
) -> None:
    """Refuse a kept corpus index made with another model, backend, chunking or corpus."""
    manifest = index.manifest
    difference = made_otherwise(manifest, settings)
    if difference == "embedding":
        made = f"embedded with {manifest.embedding.label}"
        asked = f"{settings.embed_provider}:{settings.embed_model}"
    elif difference == "chunking":
        made = f"cut as {_chunking_words(manifest.chunking)}"
        asked = _chunking_words(chunking_of(settings))
    elif difference == "backend":
        made = f"embedded with RAG_EMBED_BACKEND={manifest.embedding.made_by}"
        asked = f"RAG_EMBED_BACKEND={settings.embedding_backend}"
    elif {str(record.metadata.get("source")) for record in index.records} - set(dataset.corpus):
        made, asked = "made from another corpus", "the dataset's corpus"
    else:
        return
    raise IndexMismatchError(
        f"--index {index_dir} holds a corpus index {made}, not as this evaluation asks "
        f"({asked}): choose another --index folder or remove that one"
    )


def _chunking_words(chunking: Chunking) -> str:
    return (
        f"RAG_CHUNK_SIZE={chunking.chunk_size} RAG_CHUNK_OVERLAP={chunking.chunk_overlap} "
        f"RAG_CHUNK_CONTEXT={chunking.context}"
    )


def _in_postgres(index: VectorIndex, settings: Settings, dataset_dir: Path) -> CandidateSearch:
    """The corpus index written to the collection ``eval-DATASET``, searched there."""
    name = "eval-" + re.sub(r"[^A-Za-z0-9_-]", "-", dataset_dir.resolve().name)[:40]
    store = postgres_store(settings, collection=name)
    with store.writer_lock():
        store.apply(IndexChanges(index.manifest, (), index.records, index.vectors(), replace=True))
    return store.searchable()


def _documents_in_order(index: VectorIndex, retriever: Any, query: str) -> list[str]:
    """Document ids of the ranked chunks, each document at its best rank."""
    seen: dict[str, None] = {}
    for hit in retriever.rank(query, 200):
        record = hit.record or index.records[hit.row]
        seen.setdefault(str(record.metadata["source"]), None)
        if len(seen) == 100:
            break
    return list(seen)


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower case, no punctuation, no articles, single spaces."""
    import string

    lowered = text.lower()
    no_punctuation = "".join(char for char in lowered if char not in set(string.punctuation))
    no_articles = re.sub(r"\b(a|an|the)\b", " ", no_punctuation)
    return " ".join(no_articles.split())


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    """1.0 when the normalised prediction equals a normalised gold answer."""
    return float(any(normalize_answer(prediction) == normalize_answer(g) for g in golds))


def token_f1(prediction: str, golds: Sequence[str]) -> float:
    """The best SQuAD token F1 of the prediction against the gold answers."""
    predicted = normalize_answer(prediction).split()
    best = 0.0
    for gold in golds:
        wanted = normalize_answer(gold).split()
        common = sum((Counter(predicted) & Counter(wanted)).values())
        if common:
            precision, recall = common / len(predicted), common / len(wanted)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def contains_gold(text: str, golds: Sequence[str]) -> float:
    """1.0 when a normalised gold answer occurs in the normalised text."""
    haystack = normalize_answer(text)
    return float(any(normalize_answer(g) and normalize_answer(g) in haystack for g in golds))


def load_answers(folder: Path) -> dict[str, list[str]]:
    """answers.jsonl: {"_id": query id, "answers": [gold answer, ...]} per line."""
    return {
        str(row["_id"]): [str(a) for a in row["answers"]] for row in _jsonl(folder, "answers.jsonl")
    }


def gold_answers_missing(dataset: BeirDataset, golds: Mapping[str, Sequence[str]]) -> list[str]:
    """Ids of questions none of whose gold answers occurs literally in a judged document.

    Whitespace runs count as one space (PDF text wraps lines); nothing else is normalised.
    """

    def squeeze(text: str) -> str:
        return " ".join(text.split())

    missing = []
    for qid, answers in golds.items():
        judged = [doc for doc, gain in dataset.qrels.get(qid, {}).items() if gain > 0]
        texts = [squeeze(" ".join(dataset.corpus.get(doc, ("", "")))) for doc in judged]
        if not any(squeeze(answer) in text for answer in answers for text in texts):
            missing.append(qid)
    return missing


@dataclass(frozen=True)
class Prediction:
    """What ragkit answered one question: the answer shown first, and what backs it."""

    answer: str
    evidence: str
    short_answer: str = ""
    """The direct answer marked inside the answer; the answer itself when none is marked."""
    supported_share: float = 1.0
    seconds: float = 0.0


ANSWER_METRICS = (
    "exact_match",
    "f1",
    "contains_gold",
    "evidence_contains_gold",
    "short_exact_match",
    "short_f1",
    "median_words",
    "supported_share",
    "seconds_per_question",
)


def score_answers(
    predictions: Mapping[str, Prediction], golds: Mapping[str, Sequence[str]]
) -> dict[str, float]:
    """Means over the questions with gold answers (the median for the answer's length)."""
    ids = [qid for qid in predictions if qid in golds]
    if not ids:
        return dict.fromkeys(ANSWER_METRICS, 0.0)
    picked = [(predictions[q], golds[q]) for q in ids]

    def mean(values: Iterator[float]) -> float:
        return sum(values) / len(ids)

    return {
        "exact_match": mean(exact_match(p.answer, g) for p, g in picked),
        "f1": mean(token_f1(p.answer, g) for p, g in picked),
        "contains_gold": mean(contains_gold(p.answer, g) for p, g in picked),
        "evidence_contains_gold": mean(contains_gold(p.evidence, g) for p, g in picked),
        "short_exact_match": mean(exact_match(p.short_answer or p.answer, g) for p, g in picked),
        "short_f1": mean(token_f1(p.short_answer or p.answer, g) for p, g in picked),
        "median_words": float(statistics.median(len(p.answer.split()) for p, _ in picked)),
        "supported_share": mean(p.supported_share for p, _ in picked),
        "seconds_per_question": mean(p.seconds for p, _ in picked),
    }


def evaluate_answers(
    dataset_dir: Path,
    index: VectorIndex,
    settings: Settings,
    embeddings: Embeddings,
    llm: BaseChatModel | None,
    *,
    limit: int | None = None,
    style: AnswerStyle | None = None,
    extractive: bool = False,
) -> dict[str, float]:
    """Answer the questions of answers.jsonl as ``rag ask`` would; score what it shows.

    ``style`` is the answer model's prompt style (``Rag.answer_style()``); its sentence
    scorer also picks the evidence. ``extractive``: answers are quoted sentences, and
    ``llm`` (which may then be None) is not called.
    """
    from langchain_core.runnables import Runnable

    from app.answers import AnswerStream
    from chains.qa import AnswerStyle, build_qa_chain
    from chains.quoting import build_quote_chain

    style = style or AnswerStyle()
    dataset = load_beir(dataset_dir)
    golds = load_answers(dataset_dir)
    retriever = build_retriever(settings, index, embeddings)
    answer_chain: Runnable[Any, dict[str, Any]]
    if extractive or llm is None:
        answer_chain = build_quote_chain(retriever, min_score=settings.min_score)
        extractive = True
    else:
        answer_chain = build_qa_chain(retriever, llm, min_score=settings.min_score, style=style)
    predictions: dict[str, Prediction] = {}
    for qid in [q for q in golds if q in dataset.queries][:limit]:
        question = dataset.queries[qid]
        started = time.perf_counter()
        inputs: Any = {"question": question, "history": []} if extractive else question
        stream = AnswerStream(
            question, answer_chain.stream(inputs), "", scorer=style.scorer, extractive=extractive
        )
        answer = stream.answer
        predictions[qid] = Prediction(
            answer=answer.text,
            evidence=" ".join(item.text for item in answer.evidence),
            short_answer=answer.short_answer,
            supported_share=answer.supported_share,
            seconds=time.perf_counter() - started,
        )
    scores = score_answers(predictions, golds)
    scores["questions"] = float(len(predictions))
    return scores
