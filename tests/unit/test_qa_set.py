"""The project's question-answer set (benchmarks/qa) is valid BEIR data over data/."""

import json

from app.evaluation import corpus_from_documents, gold_answers_missing, load_answers, load_beir
from tests.conftest import DATA_DIR, REPO_ROOT

QA_DIR = REPO_ROOT / "benchmarks" / "qa"


def test_the_set_has_at_least_sixty_judged_questions_with_gold_answers() -> None:
    dataset = load_beir(QA_DIR)
    golds = load_answers(QA_DIR)
    assert len(golds) >= 60
    assert set(golds) == set(dataset.queries) == set(dataset.qrels)
    assert all(answers and all(a.strip() for a in answers) for answers in golds.values())


def test_every_gold_answer_is_a_span_of_its_judged_document() -> None:
    assert gold_answers_missing(load_beir(QA_DIR), load_answers(QA_DIR)) == []


def test_the_corpus_is_the_sample_documents_as_ragkit_reads_them() -> None:
    stored = [json.loads(line) for line in (QA_DIR / "corpus.jsonl").read_text().splitlines()]
    assert stored == corpus_from_documents(DATA_DIR), "run python benchmarks/qa/build.py"
