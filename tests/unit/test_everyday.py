"""The everyday commands: rag ls, forget, show, and shell completion."""

import json
import os
import subprocess
import sys
from datetime import datetime, tzinfo
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli.commands import cli
from app.cli.library import split_page
from retrievers.manifest import Manifest
from tests.conftest import REPO_ROOT
from tests.support.pdf import make_text_pdf
from tests.unit.conftest import SAMPLE_FILES, ScriptedChatModel, write_files

runner = CliRunner()


@pytest.fixture
def docs(tmp_path: Path, fake_models: ScriptedChatModel) -> Path:
    root = write_files(tmp_path / "docs", SAMPLE_FILES)
    result = runner.invoke(cli, ["ingest", str(root)])
    assert result.exit_code == 0, result.output
    return root


def test_ls_lists_files_with_chunks_and_when_indexed(docs: Path) -> None:
    result = runner.invoke(cli, ["ls", "--json"])
    assert result.exit_code == 0, result.output
    files = {entry["source"]: entry for entry in json.loads(result.stdout)}
    assert set(files) == {"backup.txt", "ollama.md", "notes/page.html"}
    assert all(entry["chunks"] >= 1 and entry["indexed_at"] for entry in files.values())
    assert files["backup.txt"]["path"] == str(docs / "backup.txt")
    table = runner.invoke(cli, ["ls"]).stdout.splitlines()
    assert table[0].split() == ["source", "chunks", "pages", "size", "indexed"]
    assert any(line.startswith("backup.txt ") for line in table)
    assert table[-1].startswith("3 files, ")


def test_an_unchanged_file_keeps_when_it_was_indexed(
    docs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.ingestion.run

    def indexed_at() -> dict[str, str]:
        listed = json.loads(runner.invoke(cli, ["ls", "--json"]).stdout)
        return {entry["source"]: entry["indexed_at"] for entry in listed}

    class Later(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> "Later":
            return cls(2031, 5, 6, 7, 8, 9, tzinfo=tz)

    before = indexed_at()
    monkeypatch.setattr(app.ingestion.run, "datetime", Later)
    (docs / "backup.txt").write_text("The backup now runs at 04:00.\n", encoding="utf-8")
    assert runner.invoke(cli, ["ingest", str(docs)]).exit_code == 0
    after = indexed_at()
    assert after["backup.txt"] == "2031-05-06T07:08:09+00:00"
    assert after["ollama.md"] == before["ollama.md"] != after["backup.txt"]


def test_a_manifest_from_before_indexed_at_still_loads() -> None:
    old = {
        "format_version": 2,
        "embedding": {"provider": "huggingface", "model": "m", "dimension": 4},
        "chunking": {"chunk_size": 1000, "chunk_overlap": 100},
        "files": [
            {"path": "/d/a.md", "source": "a.md", "content_hash": "h", "chunks": 1, "size": 3}
        ],
        "chunk_count": 1,
        "created_at": "2026-01-01T00:00:00+00:00",
    }
    assert Manifest.from_json(json.dumps(old)).files[0].indexed_at == ""


def test_forget_removes_files_from_the_index_not_the_disk(docs: Path) -> None:
    result = runner.invoke(cli, ["forget", "backup.txt", str(docs / "ollama.md")])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Removed 2 files (")
    assert "1 files" in result.stdout
    assert (docs / "backup.txt").is_file() and (docs / "ollama.md").is_file()
    listed = [e["source"] for e in json.loads(runner.invoke(cli, ["ls", "--json"]).stdout)]
    assert listed == ["notes/page.html"]
    missing = runner.invoke(cli, ["forget", "nope.txt"])
    assert missing.exit_code == 1 and "nope.txt" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1


def test_show_prints_the_chunks_of_one_file(docs: Path) -> None:
    result = runner.invoke(cli, ["show", "ollama.md"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("── ollama.md · chunk 0")
    assert "Ollama listens on 127.0.0.1:11434 by default." in result.stdout
    assert result.stdout.rstrip().endswith("chunks")
    chunks = json.loads(runner.invoke(cli, ["show", "ollama.md", "--json"]).stdout)
    assert [c["source"] for c in chunks] == ["ollama.md"] * len(chunks)
    missing = runner.invoke(cli, ["show", "nope.md"])
    assert missing.exit_code == 1 and "rag ls" in missing.stderr
    assert runner.invoke(cli, ["show", "ollama.md:7"]).exit_code == 1


def test_show_source_page_shows_one_page_of_a_pdf(
    tmp_path: Path, fake_models: ScriptedChatModel
) -> None:
    pages = ["First page about Ollama.", "Second page about FAISS.", "Third page about BM25."]
    (tmp_path / "pdfs").mkdir()
    (tmp_path / "pdfs" / "guide.pdf").write_bytes(make_text_pdf(pages))
    assert runner.invoke(cli, ["ingest", str(tmp_path / "pdfs")]).exit_code == 0
    result = runner.invoke(cli, ["show", "guide.pdf:2"])
    assert result.exit_code == 0, result.output
    assert "Second page about FAISS." in result.stdout
    assert "First page" not in result.stdout and "Third page" not in result.stdout
    assert result.stdout.startswith("── guide.pdf:2 · chunk ")
    missing = runner.invoke(cli, ["show", "guide.pdf:9"])
    assert missing.exit_code == 1 and "no page 9" in missing.stderr
    listed = json.loads(runner.invoke(cli, ["ls", "--json"]).stdout)
    assert [(entry["source"], entry["pages"]) for entry in listed] == [("guide.pdf", 3)]


def test_split_page() -> None:
    assert split_page("report.pdf:3") == ("report.pdf", 3)
    assert split_page("notes.md") == ("notes.md", None)
    assert split_page("c:/x.pdf") == ("c:/x.pdf", None)


@pytest.mark.parametrize(
    ("shell", "marker"),
    [("bash", "complete -o default -F"), ("zsh", "compdef"), ("fish", "complete --command rag")],
)
def test_completion_scripts_for_three_shells(shell: str, marker: str) -> None:
    result = runner.invoke(cli, ["completion", shell])
    assert result.exit_code == 0
    assert marker in result.stdout and "_RAG_COMPLETE" in result.stdout


def test_completion_completes_commands_in_a_real_process() -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "_RAG_COMPLETE": "complete_bash",
        "COMP_WORDS": "rag co",
        "COMP_CWORD": "1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "app"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == {"collections", "completion"}
    assert runner.invoke(cli, ["completion", "tcsh"]).exit_code == 2
