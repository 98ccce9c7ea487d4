"""`rag eval` end to end on a tiny BEIR dataset written here, with --answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.conftest import rag_env, run_json, run_rag

UNBOUNDED = {"questions", "median_words", "seconds_per_question"}
pytestmark = pytest.mark.integration

CORPUS = {
    "d1": ("Backups", "Backups run nightly at 02:30 with restic to the NAS named vault."),
    "d2": ("Ollama", "Ollama listens on port 11434 on the local machine by default."),
    "d3": ("Hardware", "The mini PC named atlas has 32 GB of memory and a 1 TB drive."),
    "d4": ("Coffee", "Pour-over coffee uses water between 90 and 93 degrees."),
}
QUERIES = {
    "q1": ("When do the backups run?", "d1", "02:30"),
    "q2": ("Which port does Ollama listen on?", "d2", "11434"),
    "q3": ("How much memory does the mini PC have?", "d3", "32 GB"),
}


def _write_dataset(folder: Path) -> None:
    (folder / "qrels").mkdir(parents=True)
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as handle:
        for doc_id, (title, text) in CORPUS.items():
            handle.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as handle:
        for qid, (text, _, _) in QUERIES.items():
            handle.write(json.dumps({"_id": qid, "text": text}) + "\n")
    rows = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t1" for q, (_, d, _) in QUERIES.items()]
    (folder / "qrels" / "test.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    with open(folder / "answers.jsonl", "w", encoding="utf-8") as handle:
        for qid, (_, _, answer) in QUERIES.items():
            handle.write(json.dumps({"_id": qid, "answers": [answer]}) + "\n")


def test_eval_reports_metrics_for_every_mode_and_scores_answers(tmp_path: Path) -> None:
    dataset = tmp_path / "tiny"
    _write_dataset(dataset)
    data = run_json(
        ["eval", str(dataset), "--mode", "all", "--k", "3", "--answers", "--limit", "2", "--json"],
        rag_env(tmp_path / "unused-index"),
    )
    reports = {report["mode"]: report for report in data["retrieval"]}
    assert set(reports) == {"hybrid", "dense", "bm25"}
    for report in reports.values():
        assert report["documents"] == 4 and report["queries"] == 3
        assert set(report["metrics"]) == {"ndcg@3", "recall@3", "recall@100", "mrr@3"}
        assert report["metrics"]["recall@3"] == 1.0
        assert {"load", "index", "queries"} <= set(report["seconds"])
    assert reports["hybrid"]["metrics"]["mrr@3"] == 1.0
    answers = data["answers"]
    assert answers["questions"] == 2
    assert set(answers) >= {"exact_match", "f1", "contains_gold", "evidence_contains_gold"}
    assert answers["evidence_contains_gold"] == 1.0
    shares = {name: value for name, value in answers.items() if name not in UNBOUNDED}
    assert all(0.0 <= value <= 1.0 for value in shares.values()), shares
    assert set(answers) >= {"short_exact_match", "short_f1", "median_words", "supported_share"}
    assert answers["median_words"] >= 1 and answers["seconds_per_question"] >= 0


def test_compare_model_scores_a_second_model_and_a_kept_index_must_match(tmp_path: Path) -> None:
    from app.models.embeddings import resolve_embedding_model

    dataset, kept = tmp_path / "tiny", tmp_path / "kept" / "index"
    _write_dataset(dataset)
    env = rag_env(tmp_path / "unused-index", RAG_EMBED_BACKEND="torch")
    other = resolve_embedding_model("sentence-transformers/all-MiniLM-L6-v2")  # its local folder
    command = ["eval", str(dataset), "--mode", "dense", "--k", "3", "--index", str(kept)]
    data = run_json([*command, "--compare-model", other, "--json"], env)
    assert data["compared"]["embed_model"] == other
    assert data["compared"]["retrieval"][0]["metrics"]["recall@3"] == 1.0
    beside = [path.name for path in kept.parent.iterdir() if path != kept]
    assert len(beside) == 1 and beside[0].startswith("index-")  # its own index, kept apart

    # The kept index is reused only as it was made: another chunking, model or backend is refused.
    unused = tmp_path / "unused-index"
    overlap = rag_env(unused, RAG_EMBED_BACKEND="torch", RAG_CHUNK_OVERLAP="10")
    onnx = rag_env(unused, RAG_EMBED_BACKEND="onnx-int8")
    for made_otherwise, settings, named in (
        ([*command, "--chunk-size", "500"], env, "RAG_CHUNK_SIZE=500"),
        (command, overlap, "RAG_CHUNK_OVERLAP=10"),
        (["--embed-model", other, *command], env, other),
        (command, onnx, "RAG_EMBED_BACKEND=onnx-int8"),
    ):
        refused = run_rag(made_otherwise, settings, check=False)
        assert refused.returncode == 1
        # One error line, and nothing before it: the check comes before any model loads,
        # so the refused ONNX run exports no model either.
        [error] = refused.stderr.strip().splitlines()
        assert f"--index {kept} holds a corpus index" in error and named in error
