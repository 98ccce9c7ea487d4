"""The chat REPL in a real pseudo-terminal (pexpect), answering through a stand-in Ollama."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from app import Rag
from tests.integration.conftest import rag_env
from tests.support.ollama_server import REPLY, StandInOllama, minilm_embedder

pytestmark = pytest.mark.integration
PROMPT = "rag> "


@pytest.fixture(scope="module")
def ollama() -> Iterator[StandInOllama]:
    with StandInOllama(minilm_embedder(), fail_when="FAIL", slow_when="SLOW") as server:
        yield server


@pytest.fixture
def repl_env(tmp_path: Path, ollama: StandInOllama) -> dict[str, str]:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "gguf.md").write_text(
        "# GGUF\n\nTo import a GGUF file into Ollama, write a Modelfile and run ollama create.",
        "utf-8",
    )
    (docs / "backup.md").write_text("# Backups\n\nBackups run nightly at 02:30.", "utf-8")
    index_dir = tmp_path / "index"
    Rag.from_settings(index_dir=index_dir, llm_provider="none").ingest(docs)
    return rag_env(
        index_dir,
        OLLAMA_HOST=ollama.url,
        XDG_DATA_HOME=str(tmp_path / "user-data"),
        TERM="xterm",
        NO_COLOR="1",
        RAG_MIN_SCORE="-1",
    )


def _default_interrupt() -> None:
    """Ctrl-C as a terminal gives it, even when pytest itself ignores SIGINT.

    A shell without job control starts background commands (`bash .ci/run &`) with SIGINT
    ignored, and children inherit that; an interactive shell's user never sees it.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _spawn(env: dict[str, str]) -> pexpect.spawn:
    child = pexpect.spawn(
        sys.executable,
        ["-m", "app", "chat"],
        env=env,
        encoding="utf-8",
        timeout=90,
        dimensions=(50, 200),
        preexec_fn=_default_interrupt,
    )
    child.expect_exact(PROMPT)
    return child


def test_every_command_ctrl_c_and_errors_in_a_terminal(
    repl_env: dict[str, str], tmp_path: Path
) -> None:
    child = _spawn(repl_env)
    try:
        child.sendline("/help")
        child.expect_exact("/save FILE")
        child.expect_exact(PROMPT)

        child.sendline("How do I import a GGUF file?")
        child.expect_exact(REPLY.split()[0])
        child.expect_exact("Sources: [1]")
        child.expect_exact("Evidence [")
        child.expect_exact(PROMPT)

        child.sendline("/sources")
        child.expect(r"\[1\] \S+\.md chunk 0 score")
        child.expect_exact(PROMPT)

        for command, reply in [
            ("/k 2", "retrieving 2 chunks per question"),
            ("/mode bm25", "retrieval mode: bm25"),
            ("/model", "answers: ollama:llama3.2"),
            ("/retry", "Sources: [1]"),
            (f"/save {tmp_path / 'talk.md'}", "saved 2 answers to"),
            ("/reset", "conversation cleared"),
        ]:
            child.sendline(command)
            child.expect_exact(reply)
            child.expect_exact(PROMPT)
        assert (tmp_path / "talk.md").read_text("utf-8").count("## How do I import") == 2

        child.sendline("SLOW: how are backups scheduled?")
        child.expect_exact(REPLY.split()[0])
        child.sendintr()
        child.expect_exact("(answer stopped)")
        child.expect_exact(PROMPT)

        child.sendline("FAIL: how do I import a GGUF file?")
        child.expect_exact("error: Ollama at ")
        child.expect_exact("failed with HTTP 500")
        child.expect_exact(PROMPT)

        child.sendline("When do backups run?")
        child.expect_exact("Sources: [1]")
        child.expect_exact(PROMPT)

        child.sendcontrol("d")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    history = (Path(repl_env["XDG_DATA_HOME"]) / "ragkit" / "chat_history").read_text("utf-8")
    assert "How do I import a GGUF file?" in history


def test_ctrl_c_at_the_prompt_leaves(repl_env: dict[str, str]) -> None:
    child = _spawn(repl_env)
    try:
        child.sendintr()
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
