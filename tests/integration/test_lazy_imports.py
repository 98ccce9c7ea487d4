"""Start-up stays light: each command imports only the libraries it uses.

Each command runs through the real console entry point in a fresh interpreter, which then
reports the heavy modules present in ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import COMMAND_TIMEOUT, rag_env

pytestmark = pytest.mark.integration

MODEL_LIBRARIES = ("torch", "sentence_transformers", "transformers", "faiss")
MODEL_LIBRARIES_OF_TORCH = {"torch", "sentence_transformers", "transformers"}
NEVER_FOR_ANSWERS = ("llama_cpp", "langchain_community", "langchain_text_splitters", "pypdf")
REPORT = (
    "import json, sys\n"
    "from app.cli.commands import main\n"
    "sys.argv = ['rag', *sys.argv[1:]]\n"
    "try:\n"
    "    main()\n"
    "except SystemExit:\n"
    "    pass\n"
    "loaded = sorted({name.split('.')[0] for name in sys.modules})\n"
    "print(json.dumps(loaded), file=sys.stderr)\n"
)


def loaded_modules(args: list[str], index_dir: Path) -> tuple[str, set[str]]:
    """Run ``rag ARGS`` in a fresh interpreter; its stdout and the top-level modules it loaded."""
    result = subprocess.run(
        [sys.executable, "-c", REPORT, *args],
        env=rag_env(index_dir),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    return result.stdout, set(json.loads(result.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--help"], "Usage: rag"),
        (["status", "--json"], '"chunks"'),
        (["doctor", "--json"], '"checks"'),
        (["models", "--json"], '"models"'),
        (["mcp", "--help"], "Usage: rag mcp"),
    ],
)
def test_help_status_doctor_and_models_load_no_model_library(
    sample_index: Path, args: list[str], expected: str
) -> None:
    """Weights are checked as files, so these work (and are quick) without torch or faiss."""
    stdout, loaded = loaded_modules(args, sample_index)
    assert expected in stdout
    assert loaded.isdisjoint(MODEL_LIBRARIES + NEVER_FOR_ANSWERS), sorted(
        loaded & set(MODEL_LIBRARIES + NEVER_FOR_ANSWERS)
    )
    if args == ["--help"]:
        assert loaded.isdisjoint({"numpy", "langchain_core", "rich"})
    if args == ["mcp", "--help"]:
        assert loaded.isdisjoint({"mcp", "anyio", "starlette", "uvicorn", "langchain_core"})


def test_retrieve_only_loads_the_search_stack_and_no_answer_model(sample_index: Path) -> None:
    stdout, loaded = loaded_modules(
        ["ask", "What port does Ollama listen on?", "--retrieve-only", "--json"], sample_index
    )
    assert json.loads(stdout)["sources"]
    # The default embedding backend (onnx-int8) runs on ONNX Runtime: no torch, and
    # transformers only for the one-time export.
    assert {"faiss", "onnxruntime", "bm25s"} <= loaded
    assert loaded.isdisjoint(MODEL_LIBRARIES_OF_TORCH), sorted(loaded & MODEL_LIBRARIES_OF_TORCH)
    assert loaded.isdisjoint(NEVER_FOR_ANSWERS), sorted(loaded & set(NEVER_FOR_ANSWERS))
