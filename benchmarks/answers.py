"""Answer benchmark: answer modes and prompt styles of the embedded SmolLM2-135M, one run.

Ingests data/ into a temporary index (MiniLM, hybrid retrieval, the defaults), then answers
every question of benchmarks/qa with each variant and prints one table: how often the answer
and the quoted evidence contain a gold answer, token F1 and exact match (SQuAD
normalisation), time to first token and seconds per answer (retrieval included). The first
row is the foundation's plain prompt (whole chunks, citations, 256 tokens): the baseline.

    python benchmarks/answers.py [--limit N] [--variants plain,grounded,small]
    python benchmarks/answers.py --dataset ../shared/data/squad-half --limit 100

"grounded" is the default for small models: the answer shown is the quoted sentence of the
sources with its short answer (RAG_ANSWER_MODE=extract; no answer model is called). The
short-answer columns score that span (the whole answer for the other variants), "supported"
is the share of answer sentences the support check finds in the sources.

Variants: "small" is ragkit's small-model style (short answer instruction, no citations, the
2 best sentences of each chunk by word overlap, sources without file names; a 48-token cap,
a stop at the first blank line, greedy, no repetition penalty). Each other "small-..."
variant changes one of those: file names shown, 1/3/4 sentences or whole chunks, embedding
similarity (or both) to rate sentences, a worked example in the prompt, 64 tokens, a
repetition penalty, or sampling at temperature 0.2 (the previous default).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from langchain_core.embeddings import Embeddings  # noqa: E402 - after the path and env setup
from langchain_core.prompts import BasePromptTemplate, ChatPromptTemplate  # noqa: E402
from langchain_core.retrievers import BaseRetriever  # noqa: E402

from app import Rag  # noqa: E402
from app.answers import AnswerStream  # noqa: E402
from app.config.settings import DEFAULT_LLAMACPP_MODEL  # noqa: E402
from app.evaluation import (  # noqa: E402
    Prediction,
    build_eval_index,
    load_answers,
    load_beir,
    score_answers,
)
from app.models.llms import LlmChoice, build_llm  # noqa: E402
from app.models.styles import (  # noqa: E402
    SMALL_MODEL_LIMITS,
    SMALL_MODEL_SENTENCES_PER_CHUNK,
    GenerationLimits,
    answer_style,
)
from app.retrieval import build_retriever  # noqa: E402
from chains.evidence import (  # noqa: E402
    SentenceScorer,
    embedding_similarity,
    overlap_and_similarity,
    select_evidence,
    word_overlap,
)
from chains.prompts import (  # noqa: E402
    SMALL_QA_PROMPT,
    SMALL_SYSTEM_PROMPT,
    SMALL_USER_PROMPT,
)
from chains.qa import FULL_STYLE, AnswerStyle, build_qa_chain  # noqa: E402
from chains.quoting import build_quote_chain  # noqa: E402

QA_DIR = ROOT / "benchmarks" / "qa"


@dataclass(frozen=True)
class Variant:
    """A prompt style and generation limits; ``scorer`` also picks the quoted evidence."""

    name: str
    style: Callable[[Embeddings], AnswerStyle]
    limits: GenerationLimits | None
    extractive: bool = False
    """The answer shown is the quoted sentence of the sources (RAG_ANSWER_MODE=extract)."""


def small(
    sentences: int = SMALL_MODEL_SENTENCES_PER_CHUNK,
    scorer: Callable[[Embeddings], SentenceScorer] | None = None,
    prompt: BasePromptTemplate[Any] = SMALL_QA_PROMPT,
    labels: bool = False,
) -> Callable[[Embeddings], AnswerStyle]:
    """The small-model style with one thing changed (0 sentences: whole chunks)."""
    return lambda embeddings: replace(
        answer_style(True),
        prompt=prompt,
        sentences_per_chunk=sentences,
        scorer=scorer(embeddings) if scorer else word_overlap,
        source_labels=labels,
    )


ONE_SHOT = ChatPromptTemplate.from_messages(
    [
        ("system", SMALL_SYSTEM_PROMPT),
        (
            "human",
            "<sources>\n[1] The backup tool writes its archives to /var/backups by default. "
            "Set BACKUP_DIR to use another folder.\n</sources>\n\n"
            "Question: Which setting changes the backup folder?\nShort answer:",
        ),
        ("ai", "BACKUP_DIR"),
        ("human", SMALL_USER_PROMPT),
    ]
)

LIMITS = SMALL_MODEL_LIMITS
PENALISED = replace(LIMITS, repeat_penalty=1.3)
VARIANTS = (
    Variant("plain (foundation)", lambda _: FULL_STYLE, None),
    Variant("grounded (default)", small(), LIMITS, extractive=True),
    Variant("small (generate)", small(), LIMITS),
    Variant("small-labels", small(labels=True), LIMITS),
    Variant("small-1", small(1), LIMITS),
    Variant("small-3", small(3), LIMITS),
    Variant("small-4", small(4), LIMITS),
    Variant("small-whole", small(0), LIMITS),
    Variant("small-embedding", small(scorer=embedding_similarity), LIMITS),
    Variant("small-both", small(scorer=overlap_and_similarity), LIMITS),
    Variant("small-one-shot", small(prompt=ONE_SHOT), LIMITS),
    Variant("small-64-tokens", small(), replace(LIMITS, max_tokens=64)),
    Variant("small-penalty-1.1", small(), replace(LIMITS, repeat_penalty=1.1)),
    Variant("small-penalty-1.3", small(), PENALISED),
    Variant("small-sampled-1.3", small(labels=True), replace(PENALISED, temperature=0.2)),
)
"""The default small style, then each with one thing changed; "small-sampled-1.3" is the
previous default (labels, temperature 0.2, repetition penalty 1.3)."""


@dataclass
class Row:
    """Scores and timings of one variant."""

    name: str
    scores: dict[str, float]
    first_token: float
    per_answer: float


def run_variant(
    variant: Variant,
    rag: Rag,
    retriever: BaseRetriever,
    questions: dict[str, str],
    golds: dict[str, list[str]],
) -> Row:
    """Answer every question with the variant as ``rag ask`` shows it; score and time it."""
    style = variant.style(rag.embeddings)
    choice = LlmChoice("llamacpp", DEFAULT_LLAMACPP_MODEL, "benchmark")
    llm = build_llm(rag.settings, choice, variant.limits)
    assert llm is not None
    chain = build_qa_chain(retriever, llm, min_score=rag.settings.min_score, style=style)
    quote = build_quote_chain(retriever, min_score=rag.settings.min_score)
    predictions: dict[str, Prediction] = {}
    first_tokens, totals = [], []
    for qid, question in questions.items():
        started = time.perf_counter()
        chunks = (
            quote.stream({"question": question, "history": []})
            if variant.extractive
            else chain.stream(question)
        )
        stream = AnswerStream(
            question, chunks, "", scorer=style.scorer, extractive=variant.extractive
        )
        first = next(stream, None) and time.perf_counter()
        answer = stream.answer
        ended = time.perf_counter()
        print(f"{variant.name} {qid}: {ended - started:.1f} s", file=sys.stderr, flush=True)
        predictions[qid] = Prediction(
            answer=answer.text,
            evidence=" ".join(item.text for item in answer.evidence),
            short_answer=answer.short_answer,
            supported_share=answer.supported_share,
            seconds=ended - started,
        )
        first_tokens.append((first or ended) - started)
        totals.append(ended - started)
    return Row(
        variant.name,
        score_answers(predictions, golds),
        sum(first_tokens) / len(first_tokens),
        sum(totals) / len(totals),
    )


def evidence_on_every_question(
    rag: Rag, retriever: BaseRetriever, queries: dict[str, str], golds: dict[str, list[str]]
) -> float:
    """Share of all questions whose default evidence (word overlap) contains a gold answer."""
    from chains.qa import keep_relevant

    quoted = {}
    for qid in golds:
        docs = keep_relevant(retriever.invoke(queries[qid]), rag.settings.min_score)
        found = " ".join(item.text for item in select_evidence(queries[qid], docs))
        quoted[qid] = Prediction(answer="", evidence=found)
    return score_answers(quoted, golds)["evidence_contains_gold"]


def main() -> None:
    """Ingest data/, run the chosen variants, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--limit", type=int, default=None, help="N questions spread evenly over the set"
    )
    parser.add_argument("--variants", default="", help="comma-separated names (default: all)")
    parser.add_argument(
        "--dataset",
        type=Path,
        default=QA_DIR,
        help="a BEIR folder with answers.jsonl (default: benchmarks/qa over data/); its corpus "
        "is indexed as `rag eval` does",
    )
    args = parser.parse_args()
    wanted = args.variants.split(",") if args.variants else [v.name for v in VARIANTS]
    chosen = [v for v in VARIANTS if v.name.split(" ")[0] in wanted or v.name in wanted]
    dataset = load_beir(args.dataset)
    golds = load_answers(args.dataset)
    ids = list(golds)
    if args.limit and args.limit < len(ids):
        ids = [ids[i * len(ids) // args.limit] for i in range(args.limit)]
    questions = {q: dataset.queries[q] for q in ids}
    with tempfile.TemporaryDirectory(prefix="ragkit-answers-") as folder:
        if args.dataset == QA_DIR:
            rag = Rag.from_settings(index_dir=Path(folder) / "index", llm_provider="none")
            rag.ingest(ROOT / "data")
            retriever: BaseRetriever = rag.retriever()
        else:
            rag = Rag.from_settings(llm_provider="none", chunk_size=2000)
            index = build_eval_index(dataset, rag.settings, rag.embeddings)
            retriever = build_retriever(rag.settings, index, rag.embeddings)
        warm = build_llm(rag.settings, LlmChoice("llamacpp", DEFAULT_LLAMACPP_MODEL, "warm-up"))
        assert warm is not None
        warm.invoke("Hello")  # load the model once, outside the timings
        rows = [run_variant(variant, rag, retriever, questions, golds) for variant in chosen]
        every = evidence_on_every_question(rag, retriever, dataset.queries, golds)
    default = answer_style(True)
    print(
        f"{len(questions)} questions on "
        f"{'data/' if args.dataset == QA_DIR else args.dataset.name}, "
        f"embedded {DEFAULT_LLAMACPP_MODEL}, "
        f"{os.cpu_count()} CPUs, RAG_LLM_THREADS={rag.settings.llm_threads}; "
        f"small style: {default.sentences_per_chunk} sentences/chunk, "
        f"{SMALL_MODEL_LIMITS.max_tokens} tokens, temperature {SMALL_MODEL_LIMITS.temperature}, "
        f"repeat penalty {SMALL_MODEL_LIMITS.repeat_penalty}, stop {list(SMALL_MODEL_LIMITS.stop)}"
    )
    columns = (
        ("contains_gold", "contains_gold", "{:.3f}"),
        ("f1", "f1", "{:.3f}"),
        ("exact", "exact_match", "{:.3f}"),
        ("short_f1", "short_f1", "{:.3f}"),
        ("short_exact", "short_exact_match", "{:.3f}"),
        ("words", "median_words", "{:.0f}"),
        ("supported", "supported_share", "{:.3f}"),
        ("evidence_gold", "evidence_contains_gold", "{:.3f}"),
    )
    print(
        f"{'variant':<22}"
        + "".join(f"{title:>14}" for title, _, _ in columns)
        + f"{'ttft s':>9}{'s/answer':>10}"
    )
    for row in rows:
        cells = "".join(f"{form.format(row.scores[key]):>14}" for _, key, form in columns)
        print(f"{row.name:<22}{cells}{row.first_token:>9.2f}{row.per_answer:>10.2f}")
    print(f"evidence (word overlap) contains a gold answer for {every:.3f} of all {len(golds)}")


if __name__ == "__main__":
    main()
