"""Rebuild corpus.jsonl of the project's question-answer set from the documents in data/.

The questions (queries.jsonl), their judged documents (qrels/test.tsv) and short gold answers
(answers.jsonl) are written by hand; every gold answer is a span of its judged document. Run
after changing data/, then check that the gold answers still occur:

    python benchmarks/qa/build.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app.evaluation import (  # noqa: E402 - the repository root is put on the path above
    corpus_from_documents,
    gold_answers_missing,
    load_answers,
    load_beir,
)

QA_DIR = Path(__file__).resolve().parent


def main() -> int:
    """Write corpus.jsonl and report gold answers that no judged document contains."""
    rows = corpus_from_documents(ROOT / "data")
    with open(QA_DIR / "corpus.jsonl", "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    missing = gold_answers_missing(load_beir(QA_DIR), load_answers(QA_DIR))
    for qid in missing:
        print(f"{qid}: no gold answer occurs in its judged document", file=sys.stderr)
    print(f"corpus.jsonl: {len(rows)} documents; {len(missing)} questions with missing answers")
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
