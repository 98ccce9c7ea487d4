import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli.commands import cli
from tests.unit.conftest import (
    BACKUP_REPLY,
    PORT_REPLY,
    SAMPLE_FILES,
    ScriptedChatModel,
    write_files,
)

runner = CliRunner()


def _ingest(tmp_path: Path) -> Path:
    root = write_files(tmp_path / "docs", SAMPLE_FILES)
    result = runner.invoke(cli, ["ingest", str(root)])
    assert result.exit_code == 0, result.output
    return root


def test_help_lists_the_commands() -> None:
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in ("ingest", "ask", "chat", "status"):
        assert command in result.stdout


def test_ask_without_an_index_says_to_ingest_first(fake_models: ScriptedChatModel) -> None:
    result = runner.invoke(cli, ["ask", "anything?"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: no index at ")
    assert "run `rag ingest PATH` first" in result.stderr
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_ingest_of_a_missing_path_is_a_usage_error(fake_models: ScriptedChatModel) -> None:
    result = runner.invoke(cli, ["ingest", "missing/path"])
    assert result.exit_code == 2
    assert "missing/path" in result.output


def test_bad_setting_is_one_line_and_exit_2(fake_models: ScriptedChatModel) -> None:
    result = runner.invoke(cli, ["ask", "q"], env={"RAG_TOP_K": "zero"})
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: RAG_TOP_K must be a whole number from 1 to 100; got 'zero'"
    )


def test_an_empty_question_is_a_usage_error_and_exit_2(
    tmp_path: Path, fake_models: ScriptedChatModel
) -> None:
    _ingest(tmp_path)
    result = runner.invoke(cli, ["ask", "   "])
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: the question is empty"
    assert fake_models.calls == []


def test_ingest_prints_a_summary_and_warnings(
    tmp_path: Path, fake_models: ScriptedChatModel
) -> None:
    root = write_files(tmp_path / "docs", {**SAMPLE_FILES, "bad.txt": b"\x00\x01"})
    result = runner.invoke(cli, ["ingest", str(root)])
    assert result.exit_code == 0
    assert f"warning: skipped {root / 'bad.txt'}: binary file" in result.stderr
    assert result.stdout.startswith("Indexed 3 files")
    assert "skipped 1 (binary file: 1)" in result.stdout


def test_status_describes_the_index(tmp_path: Path, fake_models: ScriptedChatModel) -> None:
    _ingest(tmp_path)
    result = runner.invoke(cli, ["status"])
    assert result.exit_code == 0
    assert "files      3" in result.stdout
    assert "(32 dimensions)" in result.stdout
    data = json.loads(runner.invoke(cli, ["status", "--json"]).stdout)
    assert data["files"] == 3 and data["dimension"] == 32


def test_ask_json_has_answer_and_sources(tmp_path: Path, fake_models: ScriptedChatModel) -> None:
    _ingest(tmp_path)
    question = "Ollama listens on 127.0.0.1:11434 by default."
    result = runner.invoke(
        cli, ["ask", question, "--json", "--k", "2"], env={"RAG_MIN_SCORE": "-1"}
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["answer"] == PORT_REPLY
    assert 1 <= len(data["sources"]) <= 2
    for source in data["sources"]:
        assert {"source", "page", "chunk", "score", "text"} <= set(source)
    assert len(fake_models.calls) == 1


def test_ask_prints_answer_then_sources(tmp_path: Path, fake_models: ScriptedChatModel) -> None:
    _ingest(tmp_path)
    result = runner.invoke(cli, ["ask", "When does the backup run?"], env={"RAG_MIN_SCORE": "-1"})
    assert result.exit_code == 0, result.output
    answer, _, sources = result.stdout.partition("\nSources:\n")
    assert answer.strip() == BACKUP_REPLY
    assert sources.strip().startswith("[1] ")


def test_retrieve_only_never_calls_the_llm(tmp_path: Path, fake_models: ScriptedChatModel) -> None:
    _ingest(tmp_path)
    result = runner.invoke(cli, ["ask", "backup", "--retrieve-only", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["answer"] is None
    assert len(data["sources"]) == 3
    assert fake_models.calls == []
    plain = runner.invoke(cli, ["ask", "backup", "--retrieve-only"])
    assert plain.stdout.startswith("[1] ")


def test_chat_reads_piped_questions_and_survives_errors(
    tmp_path: Path, fake_models: ScriptedChatModel
) -> None:
    _ingest(tmp_path)
    fake_models.rewrites["which port"] = "Which port does Ollama listen on?"
    script = (
        "When does the backup run?\n/k 0\n/k 2\n/sources\n/nope\n\n"
        "Which port does Ollama use?\n/exit\nnever\n"
    )
    result = runner.invoke(cli, ["chat"], input=script, env={"RAG_MIN_SCORE": "-1"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "> When does the backup run?" in out and "> Which port does Ollama use?" in out
    assert "> never" not in out
    assert BACKUP_REPLY in out and PORT_REPLY in out
    assert "(searched for: Which port does Ollama listen on?)" in out
    assert fake_models.questions == [
        "When does the backup run?",
        "Which port does Ollama use?",
        "Which port does Ollama listen on?",
    ]
    assert "usage: /k N" in out
    assert "retrieving 2 chunks per question" in out
    assert "unknown command /nope" in out
    assert "Sources: [1] " in out


def test_a_damaged_index_is_one_line_with_the_fix(
    tmp_path: Path, fake_models: ScriptedChatModel
) -> None:
    from retrievers.snapshots import current_snapshot

    _ingest(tmp_path)
    vectors = current_snapshot(Path("data/index")) / "index.faiss"
    vectors.write_bytes(vectors.read_bytes()[:100])
    result = runner.invoke(cli, ["ask", "backup", "--retrieve-only"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: index at ")
    assert "is damaged: index.faiss is unreadable" in result.stderr
    assert result.stderr.strip().endswith("run `rag ingest --rebuild PATH`")
    assert len(result.stderr.strip().splitlines()) == 1
    rebuilt = runner.invoke(cli, ["ingest", "--rebuild", str(tmp_path / "docs")])
    assert rebuilt.exit_code == 0
    assert runner.invoke(cli, ["ask", "backup", "--retrieve-only"]).exit_code == 0


def test_unexpected_errors_are_one_line_unless_debugging(
    tmp_path: Path, fake_models: ScriptedChatModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.ingestion.run

    def explode(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(app.ingestion.run, "ingest_paths", explode)
    root = write_files(tmp_path / "docs", {"a.md": "alpha"})
    result = runner.invoke(cli, ["ingest", str(root)])
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: unexpected ZeroDivisionError: boom (run with --debug for the traceback)"
    )
    debug = runner.invoke(cli, ["--debug", "ingest", str(root)])
    assert isinstance(debug.exception, ZeroDivisionError)


def test_chat_commands_and_saved_transcript(tmp_path: Path, fake_models: ScriptedChatModel) -> None:
    _ingest(tmp_path)
    saved = tmp_path / "talk.md"
    fake_models.rewrites["when does the backup run"] = "When does the nightly backup run?"
    script = (
        "/retry\nWhen does the backup run?\n/retry\n/mode bm25\n/mode fuzzy\n/model\n"
        f"/save {saved}\n/reset\n/sources\n"
    )
    result = runner.invoke(cli, ["chat"], input=script, env={"RAG_MIN_SCORE": "-1"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "nothing to retry yet" in out
    assert out.count("> When does the backup run?") == 2
    assert "retrieval mode: bm25" in out
    assert "usage: /mode hybrid|dense|bm25 (now bm25)" in out
    assert "answers: fake:scripted; embeddings: huggingface:" in out
    assert "saved 2 answers to" in out
    assert "conversation cleared" in out
    assert out.strip().endswith("no sources yet: ask a question first")
    markdown = saved.read_text(encoding="utf-8")
    assert markdown.startswith("# ragkit conversation")
    assert markdown.count("## When does the backup run?") == 2
    assert markdown.count(BACKUP_REPLY) == 2


def test_chat_json_lines(tmp_path: Path, fake_models: ScriptedChatModel) -> None:
    _ingest(tmp_path)
    rewrite = "Where does the backup copy the home folder?"
    fake_models.rewrites["and where does it"] = rewrite
    fake_models.replies = {
        "where does the backup": "It copies the home folder to the NAS [1].",
        **fake_models.replies,
    }
    questions = "When does the backup run?\nand where does it copy the home folder?\n"
    result = runner.invoke(cli, ["chat", "--json"], input=questions, env={"RAG_MIN_SCORE": "-1"})
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["question"] for line in lines] == questions.splitlines()
    assert lines[0]["standalone_question"] == "When does the backup run?"
    assert lines[1]["standalone_question"] == rewrite
    assert [line["answer"] for line in lines] == [
        BACKUP_REPLY,
        "It copies the home folder to the NAS [1].",
    ]
    assert all(line["sources"] for line in lines)


def test_not_covered_lists_the_closest_passages_and_force_asks_anyway(
    tmp_path: Path, fake_models: ScriptedChatModel
) -> None:
    _ingest(tmp_path)
    strict = {"RAG_MIN_SCORE": "0.999"}
    result = runner.invoke(cli, ["ask", "What is the capital of Peru?"], env=strict)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Your documents do not seem to cover this question")
    assert "Closest passages (not close enough to answer; --force asks the model anyway):" in (
        result.stdout
    )
    assert "  [1] " in result.stdout
    assert fake_models.calls == []
    fake_models.replies["capital of peru"] = "The passages do not name the capital of Peru."
    forced = runner.invoke(cli, ["ask", "What is the capital of Peru?", "--force"], env=strict)
    assert forced.stdout.startswith("The passages do not name the capital of Peru.")
    assert fake_models.questions == ["What is the capital of Peru?"]
    plain = runner.invoke(
        cli, ["ask", "When does the backup run?", "--no-stream"], env={"RAG_MIN_SCORE": "-1"}
    )
    assert plain.stdout.startswith(f"{BACKUP_REPLY}\n")
