"""Models already on the machine: a model in Ollama's store answers with no Ollama running.

The fake stores hold copies of the embedded SmolLM2 file under other names, laid out as
Ollama and the Hugging Face hub lay out theirs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from app.models.discovery import OLLAMA_SYSTEM_MODELS
from app.models.llms import embedded_gguf_path
from tests.integration.conftest import rag_env, run_json, run_rag

pytestmark = pytest.mark.integration

QUESTION = "What port does Ollama listen on by default?"
OLLAMA_NAME = "tinychat:latest"
HF_NAME = "zeta/ZetaChat-GGUF/zetachat-Q4_1.gguf"


def place(source: Path, target: Path) -> Path:
    """A hard link to ``source`` at ``target`` (a copy across file systems)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
    return target


@pytest.fixture
def machine(tmp_path: Path) -> dict[str, str]:
    """A home with a model pulled into Ollama's store and another in the Hugging Face cache."""
    if any((OLLAMA_SYSTEM_MODELS / "manifests").glob("*/*/*/*")):
        pytest.skip(f"a system-wide Ollama store at {OLLAMA_SYSTEM_MODELS} would count too")
    gguf = embedded_gguf_path()
    digest = hashlib.sha256(gguf.read_bytes()).hexdigest()
    store = tmp_path / "ollama-models"
    place(gguf, store / "blobs" / f"sha256-{digest}")
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json"},
        "layers": [
            {
                "mediaType": "application/vnd.ollama.image.model",
                "digest": f"sha256:{digest}",
                "size": gguf.stat().st_size,
            }
        ],
    }
    folder = store / "manifests" / "registry.ollama.ai" / "library" / "tinychat"
    folder.mkdir(parents=True)
    (folder / "latest").write_text(json.dumps(manifest), encoding="utf-8")
    hub = tmp_path / "hf-hub"
    place(
        gguf, hub / "models--zeta--ZetaChat-GGUF" / "snapshots" / "0123abc" / HF_NAME.split("/")[-1]
    )
    return {
        "HOME": str(tmp_path / "home"),
        "OLLAMA_MODELS": str(store),
        "HF_HUB_CACHE": str(hub),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "RAG_LLM_DISCOVER": "1",
        "RAG_LLM_THREADS": "1",
    }


def test_rag_models_finds_the_ollama_and_hugging_face_models(
    sample_index: Path, machine: dict[str, str]
) -> None:
    data = run_json(["models", "--json"], rag_env(sample_index, **machine))
    by_name = {model["name"]: model for model in data["models"]}
    assert set(by_name) == {OLLAMA_NAME, HF_NAME}
    assert {model["source"] for model in data["models"]} == {"ollama", "hf-cache"}
    for model in data["models"]:
        assert (model["parameters_label"], model["quantisation"]) == ("135M", "Q4_1")
        assert model["fits"] is True
    # Equal models: the name decides, and tinychat:latest comes before zeta/.
    assert by_name[OLLAMA_NAME]["auto"] and not by_name[HF_NAME]["auto"]
    assert data["auto"]["model"] == by_name[OLLAMA_NAME]["path"]

    table = run_rag(["models"], rag_env(sample_index, **machine)).stdout.splitlines()
    assert [line.split()[1] for line in table if line.startswith("*")] == [OLLAMA_NAME]


def test_auto_answers_with_the_ollama_model_while_no_ollama_runs(
    sample_index: Path, machine: dict[str, str]
) -> None:
    # The stand-in is a copy of the tiny embedded model: it must write, not quote, here.
    env = rag_env(sample_index, RAG_LLM_PROVIDER="auto", RAG_ANSWER_MODE="generate", **machine)
    result = run_rag(["ask", QUESTION, "--json"], env)
    notice = [line for line in result.stderr.splitlines() if "answering with" in line]
    assert len(notice) == 1, result.stderr
    assert "Ollama is not running" in notice[0]
    assert f"found {OLLAMA_NAME} (ollama, 135M Q4_1)" in notice[0]
    data = json.loads(result.stdout)
    assert data["llm"].startswith(f"llamacpp:{machine['OLLAMA_MODELS']}/blobs/sha256-")
    assert data["answer"].strip() and data["answer_kind"] == "generated"
    assert data["sources"]


def test_with_discovery_off_auto_keeps_the_embedded_model(
    sample_index: Path, machine: dict[str, str]
) -> None:
    env = rag_env(sample_index, **{**machine, "RAG_LLM_DISCOVER": "0"})
    result = run_rag(["ask", QUESTION, "--json"], env)
    assert json.loads(result.stdout)["llm"] == "llamacpp:SmolLM2-135M-Instruct"
