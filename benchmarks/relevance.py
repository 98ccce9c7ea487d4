"""Calibrate RAG_MIN_SCORE: how often covered questions pass and uncovered ones are stopped.

Two BEIR datasets on different subjects each give questions their own corpus covers and
questions the other corpus does not. Each corpus is indexed with ragkit's defaults (MiniLM,
hybrid retrieval); each question is retrieved from both indexes, and the relevance gate of
the answer chain (cosine >= threshold, or most question words in the chunk) is applied at
several thresholds. The baseline row is no gate at all (plain LangChain retrieval chains
always call the model).

    python benchmarks/relevance.py ../shared/data/scifact benchmarks/qa --docs 1000
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from app.config.settings import load_settings
from app.evaluation import BeirDataset, build_eval_index, load_beir
from app.models.embeddings import build_embeddings
from app.retrieval import build_retriever
from chains.qa import keep_relevant

THRESHOLDS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4)


def subset(dataset: BeirDataset, docs: int) -> BeirDataset:
    """The judged documents plus the first others, up to ``docs`` (all when 0)."""
    if not docs:
        return dataset
    judged = {doc for judgements in dataset.qrels.values() for doc in judgements}
    chosen = [doc for doc in dataset.corpus if doc in judged]
    chosen += [doc for doc in dataset.corpus if doc not in judged][: max(0, docs - len(chosen))]
    corpus = {doc: dataset.corpus[doc] for doc in chosen}
    return BeirDataset(corpus, dataset.queries, dataset.qrels)


def top_scores(retriever: object, questions: list[str]) -> list[list[tuple[float, bool]]]:
    """(cosine, lexical match) of each retrieved chunk, per question."""
    results = []
    for question in questions:
        docs = retriever.invoke(question)  # type: ignore[attr-defined]
        results.append(
            [(float(d.metadata["score"]), bool(d.metadata.get("lexical_match"))) for d in docs]
        )
    return results


def passes(hits: list[tuple[float, bool]], threshold: float) -> bool:
    """Whether the chain's gate lets the question through to the answer model."""
    from langchain_core.documents import Document

    docs = [Document("", metadata={"score": s, "lexical_match": m}) for s, m in hits]
    return bool(keep_relevant(docs, threshold))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs=2, type=Path, help="two BEIR folders")
    parser.add_argument("--docs", type=int, default=1000, help="documents per corpus (0: all)")
    args = parser.parse_args()
    for folder in args.datasets:
        if not folder.is_dir():
            sys.exit(f"no dataset at {folder}")
    settings = load_settings({"llm_provider": "none"})
    embeddings = build_embeddings(settings)
    datasets = [subset(load_beir(folder), args.docs) for folder in args.datasets]
    retrievers = [
        build_retriever(settings, build_eval_index(d, settings, embeddings), embeddings)
        for d in datasets
    ]
    covered: list[list[list[tuple[float, bool]]]] = []
    uncovered: list[list[tuple[float, bool]]] = []
    for own, dataset in enumerate(datasets):
        questions = [dataset.queries[q] for q in dataset.qrels if q in dataset.queries]
        covered.append(top_scores(retrievers[own], questions))
        uncovered += top_scores(retrievers[1 - own], questions)

    names = [folder.name for folder in args.datasets]
    print(f"relevance gate, {len(uncovered)} questions asked of their own corpus and the other")
    columns = [f"answered ({name})" for name in names] + ["uncovered stopped"]
    print(f"{'gate':<26}" + "".join(f"{c:>22}" for c in columns))
    print(f"{'none (plain LangChain)':<26}" + "".join(f"{v:>21.1f}%" for v in (100, 100, 0)))
    for threshold in THRESHOLDS:
        answered = [sum(passes(h, threshold) for h in own) / len(own) for own in covered]
        stopped = sum(not passes(h, threshold) for h in uncovered) / len(uncovered)
        mark = " (default)" if threshold == settings.min_score else ""
        cells = "".join(f"{v * 100:>21.1f}%" for v in (*answered, stopped))
        print(f"{f'cosine >= {threshold:.2f}{mark}':<26}{cells}")


if __name__ == "__main__":
    main()
