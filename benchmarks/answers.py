"""Answer benchmark: prompt styles of the embedded SmolLM2-135M on the project's QA set, one run.

Ingests data/ into a temporary index (MiniLM, hybrid retrieval, the defaults), then answers
every question of benchmarks/qa with each variant and prints one table: how often the answer
and the quoted evidence contain a gold answer, token F1 and exact match (SQuAD
normalisation), time to first token and seconds per answer (retrieval included). The first
row is the foundation's plain prompt (whole chunks, citations, 256 tokens): the baseline.

    python benchmarks/answers.py [--limit N] [--variants plain,small-2-words]

Variants: "small" is the small-model prompt (short answer instruction, no citations) with
the small-model limits (token cap, stop sequence, repetition penalty); then whole chunks or
the N best sentences of each chunk, rated by word overlap, embedding similarity or both.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from langchain_core.embeddings import Embeddings  # noqa: E402 - after the path and env setup

from app import Rag  # noqa: E402
from app.evaluation import load_answers, load_beir, score_answers  # noqa: E402
from app.providers import LlmChoice, build_llm  # noqa: E402
from app.settings import DEFAULT_LLAMACPP_MODEL  # noqa: E402
from app.styles import SMALL_MODEL_LIMITS, GenerationLimits, answer_style  # noqa: E402
from chains.evidence import (  # noqa: E402
    SentenceScorer,
    embedding_similarity,
    overlap_and_similarity,
    select_evidence,
    word_overlap,
)
from chains.prompts import SMALL_QA_PROMPT  # noqa: E402
from chains.qa import FULL_STYLE, AnswerStyle, build_qa_chain  # noqa: E402

QA_DIR = ROOT / "benchmarks" / "qa"


@dataclass(frozen=True)
class Variant:
    """A prompt style and generation limits; ``scorer`` also picks the quoted evidence."""

    name: str
    style: Callable[[Embeddings], AnswerStyle]
    limits: GenerationLimits | None


def small(
    sentences: int, scorer: Callable[[Embeddings], SentenceScorer]
) -> Callable[[Embeddings], AnswerStyle]:
    """The small-model prompt with ``sentences`` best sentences a chunk (0: whole chunks)."""
    return lambda embeddings: AnswerStyle(
        prompt=SMALL_QA_PROMPT,
        sentences_per_chunk=sentences,
        scorer=scorer(embeddings),
        small_model=True,
    )


def words(_: Embeddings) -> SentenceScorer:
    """Word overlap needs no model."""
    return word_overlap


VARIANTS = (
    Variant("plain (foundation)", lambda _: FULL_STYLE, None),
    Variant("small-whole-chunks", small(0, words), SMALL_MODEL_LIMITS),
    Variant("small-1-words", small(1, words), SMALL_MODEL_LIMITS),
    Variant("small-2-words", small(2, words), SMALL_MODEL_LIMITS),
    Variant("small-2-embedding", small(2, embedding_similarity), SMALL_MODEL_LIMITS),
    Variant("small-2-both", small(2, overlap_and_similarity), SMALL_MODEL_LIMITS),
)


@dataclass
class Row:
    """Scores and timings of one variant."""

    name: str
    scores: dict[str, float]
    first_token: float
    per_answer: float


def run_variant(
    variant: Variant, rag: Rag, questions: dict[str, str], golds: dict[str, list[str]]
) -> Row:
    """Answer every question with the variant; score answers and evidence, time them."""
    style = variant.style(rag.embeddings)
    choice = LlmChoice("llamacpp", DEFAULT_LLAMACPP_MODEL, "benchmark")
    llm = build_llm(rag.settings, choice, variant.limits)
    assert llm is not None
    chain = build_qa_chain(rag.retriever(), llm, min_score=rag.settings.min_score, style=style)
    predictions: dict[str, tuple[str, str]] = {}
    first_tokens, totals = [], []
    for qid, question in questions.items():
        started = time.perf_counter()
        first: float | None = None
        pieces, docs = [], []
        for chunk in chain.stream(question):
            if "docs" in chunk:
                docs = chunk["docs"]
            if chunk.get("answer"):
                first = first or time.perf_counter()
                pieces.append(chunk["answer"])
        ended = time.perf_counter()
        print(f"{variant.name} {qid}: {ended - started:.1f} s", file=sys.stderr, flush=True)
        evidence = select_evidence(question, docs, scorer=style.scorer)
        predictions[qid] = ("".join(pieces).strip(), " ".join(item.text for item in evidence))
        first_tokens.append((first or ended) - started)
        totals.append(ended - started)
    return Row(
        variant.name,
        score_answers(predictions, golds),
        sum(first_tokens) / len(first_tokens),
        sum(totals) / len(totals),
    )


def evidence_on_every_question(
    rag: Rag, queries: dict[str, str], golds: dict[str, list[str]]
) -> float:
    """Share of all questions whose default evidence (word overlap) contains a gold answer."""
    from chains.qa import keep_relevant

    retriever = rag.retriever()
    quoted = {}
    for qid in golds:
        docs = keep_relevant(retriever.invoke(queries[qid]), rag.settings.min_score)
        quoted[qid] = ("", " ".join(item.text for item in select_evidence(queries[qid], docs)))
    return score_answers(quoted, golds)["evidence_contains_gold"]


def main() -> None:
    """Ingest data/, run the chosen variants, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--limit", type=int, default=None, help="N questions spread evenly over the set"
    )
    parser.add_argument("--variants", default="", help="comma-separated names (default: all)")
    args = parser.parse_args()
    wanted = args.variants.split(",") if args.variants else [v.name for v in VARIANTS]
    chosen = [v for v in VARIANTS if v.name.split(" ")[0] in wanted or v.name in wanted]
    dataset = load_beir(QA_DIR)
    golds = load_answers(QA_DIR)
    ids = list(golds)
    if args.limit and args.limit < len(ids):
        ids = [ids[i * len(ids) // args.limit] for i in range(args.limit)]
    questions = {q: dataset.queries[q] for q in ids}
    with tempfile.TemporaryDirectory(prefix="ragkit-answers-") as folder:
        rag = Rag.from_settings(index_dir=Path(folder) / "index", llm_provider="none")
        rag.ingest(ROOT / "data")
        warm = build_llm(rag.settings, LlmChoice("llamacpp", DEFAULT_LLAMACPP_MODEL, "warm-up"))
        assert warm is not None
        warm.invoke("Hello")  # load the model once, outside the timings
        rows = [run_variant(variant, rag, questions, golds) for variant in chosen]
        every = evidence_on_every_question(rag, dataset.queries, golds)
    default = answer_style(True)
    print(
        f"{len(questions)} questions on data/, embedded {DEFAULT_LLAMACPP_MODEL}, "
        f"{os.cpu_count()} CPUs, RAG_LLM_THREADS={rag.settings.llm_threads}; "
        f"default small style: {default.sentences_per_chunk} "
        f"sentences/chunk, {SMALL_MODEL_LIMITS.max_tokens} tokens, repeat penalty "
        f"{SMALL_MODEL_LIMITS.repeat_penalty}, stop {list(SMALL_MODEL_LIMITS.stop)}"
    )
    header = ("variant", "contains_gold", "f1", "exact_match", "evidence_gold", "ttft s")
    header += ("s/answer",)
    print(f"{header[0]:<28}" + "".join(f"{h:>14}" for h in header[1:]))
    for row in rows:
        s = row.scores
        print(
            f"{row.name:<28}{s['contains_gold']:>14.3f}{s['f1']:>14.3f}"
            f"{s['exact_match']:>14.3f}{s['evidence_contains_gold']:>14.3f}"
            f"{row.first_token:>14.2f}{row.per_answer:>14.2f}"
        )
    print(f"evidence (word overlap) contains a gold answer for {every:.3f} of all {len(golds)}")


if __name__ == "__main__":
    main()
