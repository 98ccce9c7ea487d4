"""Bring your own model: a GGUF path in RAG_LLM_MODEL is the model that answers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app import Rag
from app.models.llamacpp import LlamaCppChat
from app.models.llms import embedded_gguf_path
from tests.integration.conftest import rag_env, run_json, run_rag

pytestmark = pytest.mark.integration

QUESTION = "What port does Ollama listen on by default?"


@pytest.fixture
def own_gguf(tmp_path: Path) -> Path:
    """The SmolLM2 file copied to a path of the user's choosing."""
    copy = tmp_path / "my models" / "my-chat-model.gguf"
    copy.parent.mkdir()
    shutil.copyfile(embedded_gguf_path(), copy)
    return copy


def test_the_file_at_rag_llm_model_answers(sample_index: Path, own_gguf: Path) -> None:
    env = rag_env(
        sample_index,
        RAG_LLM_PROVIDER="llamacpp",
        RAG_LLM_MODEL=str(own_gguf),
        RAG_LLM_THREADS="1",
        RAG_LLM_GPU_LAYERS="0",
    )
    data = run_json(["ask", QUESTION, "--json"], env)
    assert data["llm"] == f"llamacpp:{own_gguf}"
    assert data["answer"].strip()
    assert data["evidence"] and "11434" in data["evidence"][0]["text"]

    # The same setting with a damaged file fails naming that file: it is what was read.
    own_gguf.write_bytes(b"GGUF" + bytes(64))
    failed = run_rag(["ask", QUESTION], env, check=False)
    assert failed.returncode == 1
    assert str(own_gguf) in failed.stderr
    assert "Traceback" not in failed.stderr


def test_the_loaded_model_is_the_given_file_with_its_own_chat_template(
    sample_index: Path, own_gguf: Path
) -> None:
    rag = Rag.from_settings(
        index_dir=sample_index, llm_provider="llamacpp", llm_model=str(own_gguf), llm_threads=1
    )
    llm = rag.llm
    assert isinstance(llm, LlamaCppChat)
    loaded = llm.loaded().llama
    assert loaded.model_path == str(own_gguf)
    assert loaded.chat_format == "chat_template.default"  # read from the GGUF's metadata
    assert "<|im_start|>" in loaded.metadata["tokenizer.chat_template"]
    # A 100 MB file is a small model: it gets the short-answer prompt.
    assert rag.answer_style().small_model
    assert rag.ask(QUESTION).evidence
