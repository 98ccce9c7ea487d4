"""Incremental sync and the embedding backends with the real MiniLM."""

import json
from pathlib import Path

import numpy as np
import pytest

from app.config.settings import resolve_settings
from app.models.embeddings import _cached_embeddings, build_embeddings
from app.models.onnx_export import int8_file, quantization_target
from app.models.onnx_runtime import OnnxEmbeddings
from tests.conftest import DATA_DIR
from tests.integration.conftest import rag_env, run_json, run_rag

pytestmark = pytest.mark.integration

SENTENCES = [
    "Ollama listens on port 11434 unless OLLAMA_HOST says otherwise.",
    "The nightly backup copies the home folder to the NAS at 02:30.",
    "Set NO_PROXY so that local requests bypass the corporate proxy.",
]


def test_onnx_backends_are_exported_once_into_the_user_cache(user_cache: Path) -> None:
    torch_model = build_embeddings(resolve_settings({"embed_backend": "torch"}, {}, {}))
    reference = np.array(torch_model.embed_documents(SENTENCES))
    for backend, least_cosine in (("onnx", 0.9999), ("onnx-int8", 0.97)):
        settings = resolve_settings({"embed_backend": backend}, {}, {})
        model = build_embeddings(settings)
        assert isinstance(model, OnnxEmbeddings)
        assert user_cache / "ragkit" / "onnx" in model.model_file.parents
        cosines = (np.array(model.embed_documents(SENTENCES)) * reference).sum(axis=1)
        assert cosines.min() >= least_cosine, (backend, cosines)
    assert model.model_file.name == int8_file(quantization_target())

    exported = {path: path.stat().st_mtime_ns for path in model.model_file.parent.iterdir()}
    _cached_embeddings.cache_clear()
    again = build_embeddings(resolve_settings({"embed_backend": "onnx-int8"}, {}, {}))
    assert isinstance(again, OnnxEmbeddings) and again.model_file == model.model_file
    assert {p: p.stat().st_mtime_ns for p in model.model_file.parent.iterdir()} == exported


def test_int8_vectors_do_not_depend_on_the_texts_embedded_beside_them() -> None:
    model = build_embeddings(resolve_settings({"embed_backend": "onnx-int8"}, {}, {}))
    assert isinstance(model, OnnxEmbeddings)
    alone = np.array([model.embed_query(text) for text in SENTENCES])
    workers = model.workers  # the model is shared by the process: put the setting back
    try:
        model.workers = 2
        together = np.array(model.embed_documents(SENTENCES * 3))
        reordered = np.array(model.embed_documents(SENTENCES[::-1]))
        model.workers = 1
        one_thread = np.array(model.embed_documents(SENTENCES))
    finally:
        model.workers = workers
    np.testing.assert_allclose(together, np.vstack([alone] * 3), atol=1e-6)
    np.testing.assert_allclose(reordered, alone[::-1], atol=1e-6)
    np.testing.assert_allclose(one_thread, alone, atol=1e-6)
    assert np.allclose(np.linalg.norm(alone, axis=1), 1.0, atol=1e-5)


def test_an_onnx_int8_index_answers_a_retrieval_query(tmp_path: Path) -> None:
    index = tmp_path / "index"
    env = rag_env(index, RAG_EMBED_BACKEND="onnx-int8")
    report = run_json(["ingest", str(DATA_DIR), "--json"], env)
    assert report["backend"] == "onnx-int8" and report["chunks_embedded"] > 0
    status = run_json(["status", "--json"], env)
    assert status["files"] == report["total_files"]
    manifest = next(index.glob("snapshot-*/manifest.json"))
    assert json.loads(manifest.read_text())["embedding"]["backend"] == "onnx-int8"
    answer = run_json(
        ["ask", "What port does Ollama listen on?", "--retrieve-only", "--json", "--k", "3"],
        rag_env(index, RAG_EMBED_BACKEND="onnx-int8", RAG_RETRIEVAL_MODE="dense"),
    )
    assert answer["sources"][0]["source"] == "ollama-notes.md"
    assert "11434" in answer["sources"][0]["text"]


GUIDE = "\n\n".join(
    ["# Home lab guide"]
    + [
        f"Section {n}. " + " ".join(f"The {word} of part {n} is documented here." for word in words)
        for n, words in enumerate(
            [
                ("router", "firewall", "switch"),
                ("backup", "snapshot", "archive"),
                ("printer", "scanner", "label maker"),
                ("thermostat", "boiler", "radiator"),
            ]
        )
    ]
)


def test_incremental_sync_with_the_real_model(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "guide.md").write_text(GUIDE, encoding="utf-8")
    (docs / "pets.md").write_text("# Pets\n\nThe cat is fed at seven.", encoding="utf-8")
    index = tmp_path / "index"
    env = rag_env(index)
    ingest = ["ingest", str(docs), "--chunk-size", "200", "--chunk-overlap", "0", "--json"]

    first = run_json(ingest, env)
    assert first["files_added"] == 2 and first["chunks_embedded"] == first["total_chunks"] >= 4

    current = (index / "CURRENT").read_text()
    unchanged = run_json(ingest, env)
    assert (unchanged["files_unchanged"], unchanged["chunks_embedded"]) == (2, 0)
    assert (index / "CURRENT").read_text() == current

    edited = GUIDE.replace("The printer of part 2", "The espresso machine of part 2")
    (docs / "guide.md").write_text(edited, encoding="utf-8")
    update = run_json(ingest, env)
    assert (update["files_updated"], update["chunks_embedded"]) == (1, 1)
    assert update["chunks_reused"] == first["total_chunks"] - 2
    found = run_json(
        ["ask", "espresso machine", "--retrieve-only", "--json", "--k", "1"],
        rag_env(index, RAG_RETRIEVAL_MODE="dense"),
    )
    assert "espresso machine" in found["sources"][0]["text"]

    (docs / "guide.md").rename(docs / "handbook.md")
    renamed = run_json(ingest, env)
    assert (renamed["files_renamed"], renamed["files_removed"], renamed["chunks_embedded"]) == (
        1,
        0,
        0,
    )

    (docs / "pets.md").unlink()
    kept = run_json([*ingest, "--no-prune"], env)
    assert (kept["files_missing_kept"], kept["total_files"]) == (1, 2)
    pruned = run_rag(ingest[:-1], env).stdout
    assert "1 removed" in pruned and "0 chunks embedded" in pruned
