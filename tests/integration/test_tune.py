"""``rag tune`` end to end on data/: a small real training run, the saved model, --apply."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.evaluation import load_beir
from app.models.embeddings import resolve_embedding_model
from app.tuning.pairs import label_free_pairs
from app.tuning.training import TrainingOptions, train
from retrievers.docstore import ChunkRecord
from tests.conftest import DATA_DIR
from tests.integration.conftest import rag_env, run_rag
from tests.support.tuning import teacher_over

pytestmark = pytest.mark.integration
BASE = "sentence-transformers/all-MiniLM-L6-v2"
PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt"}


def test_tune_saves_a_safe_model_and_apply_re_embeds_the_index(tmp_path: Path) -> None:
    env = rag_env(tmp_path / "index", XDG_DATA_HOME=str(tmp_path / "user-data"))
    run_rag(["ingest", str(DATA_DIR)], env)

    tune = ["tune", "--budget", "1", "--batch-size", "8", "--out", "notes", "--apply"]
    tuned = run_rag(["--llm-provider", "none", *tune], env)
    folder = tmp_path / "user-data" / "ragkit" / "models" / "tuned" / "notes"
    assert f"saved to {folder}" in tuned.stdout
    assert "the index is re-embedded with it" in tuned.stdout

    files = [path for path in folder.rglob("*") if path.is_file()]
    assert (folder / "model.safetensors").is_file()
    assert not [path for path in files if path.suffix in PICKLE_SUFFIXES]
    assert not [
        path for path in files if path.read_bytes()[:2] in (b"\x80\x02", b"\x80\x04", b"PK")
    ]
    card = json.loads((folder / "ragkit-tune.json").read_text("utf-8"))
    assert card["base_model"] == BASE
    assert card["pairs_by_kind"]["sentence"] > 0
    assert 0 < card["training"]["steps"] <= card["training"]["planned_steps"]

    # The index now holds the tuned model's vectors: the base model is refused, clearly.
    refused = run_rag(["ask", "--retrieve-only", "How do I import a GGUF model?"], env, check=False)
    assert refused.returncode == 1
    assert str(folder) in refused.stderr
    answered = run_rag(
        ["--embed-model", str(folder), "ask", "--retrieve-only", "How do I import a GGUF model?"],
        env,
    )
    assert "ollama-notes.md" in answered.stdout


def test_the_saved_model_loads_offline_and_two_runs_with_one_seed_agree(tmp_path: Path) -> None:
    from safetensors.numpy import load_file
    from sentence_transformers import SentenceTransformer

    dataset = load_beir(Path(__file__).resolve().parents[2].parent / "shared/data/scifact")
    records = [
        ChunkRecord(doc_id, text, {"source": doc_id, "title": title})
        for doc_id, (title, text) in list(dataset.corpus.items())[:20]
    ]
    pairs = label_free_pairs(records, seed=0)
    options = TrainingOptions(batch_size=8, max_seq_length=64)
    base = resolve_embedding_model(BASE)
    # No held-out pairs: no early stopping, so the last weights are saved.
    judge = teacher_over(records)
    runs = [train(base, pairs, [], tmp_path / name, options, judge) for name in ("a", "b")]
    assert runs[0].steps == runs[1].steps == runs[0].planned_steps > 0
    weights = [load_file(str(tmp_path / name / "model.safetensors")) for name in ("a", "b")]
    assert weights[0].keys() == weights[1].keys()
    assert all((weights[0][key] == weights[1][key]).all() for key in weights[0])
    original = load_file(str(Path(base) / "model.safetensors"))
    assert any((weights[0][key] != original[key]).any() for key in weights[0] if key in original)

    model = SentenceTransformer(str(tmp_path / "a"), device="cpu", local_files_only=True)
    assert model.encode(["a claim about cells"]).shape == (1, 384)
    # Trained on 64 tokens, it embeds as much of a chunk as the base model does.
    assert model.max_seq_length == SentenceTransformer(base, device="cpu").max_seq_length == 256


def test_questions_written_by_a_local_model_join_the_training_pairs(tmp_path: Path) -> None:
    env = rag_env(tmp_path / "index", XDG_DATA_HOME=str(tmp_path / "user-data"))
    run_rag(["ingest", str(DATA_DIR)], env)

    # The embedded model is too small to be asked by default; --questions asks it anyway.
    tune = ["tune", "--questions", "--budget", "1", "--batch-size", "8", "--out", "asked"]
    tuned = run_rag(["--llm-provider", "llamacpp", *tune], env)
    card = json.loads(
        (tmp_path / "user-data/ragkit/models/tuned/asked/ragkit-tune.json").read_text("utf-8")
    )
    written = card["pairs_by_kind"]["question"]
    assert written > 0 and card["pairs_by_kind"]["sentence"] > 0
    assert f"the answer model wrote {written} questions in " in tuned.stdout
    assert card["question_seconds"] > 0 and card["training"]["steps"] > 0
