"""Fixtures shared by unit and integration tests: an isolated working folder and environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"
SCIFACT_DIR = REPO_ROOT.parent / "shared" / "data" / "scifact"

_SETTINGS_PREFIXES = ("RAG_",)
_STANDARD_VARIABLES = ("OLLAMA_HOST",)


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run each test in its own folder, with no RAG_* settings and no hub access.

    Models already on the machine are not looked for (RAG_LLM_DISCOVER=0): ``auto`` answers
    with the embedded model, except in the tests that turn discovery on over fake folders.
    """
    for name in list(os.environ):
        if name.startswith(_SETTINGS_PREFIXES) or name in _STANDARD_VARIABLES:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RAG_LLM_DISCOVER", "0")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "user-data"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    yield work
