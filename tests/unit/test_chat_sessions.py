"""Chat conversations that last: saved as JSON lines, listed, resumed, switched collection."""

import json
from pathlib import Path

from typer.testing import CliRunner

from app.cli.commands import cli
from app.config.paths import chats_dir
from tests.unit.conftest import (
    BACKUP_REPLY,
    PORT_REPLY,
    SAMPLE_FILES,
    ScriptedChatModel,
    write_files,
)

runner = CliRunner()
ENV = {"RAG_MIN_SCORE": "-1"}


def _chat(*args: str, input: str) -> tuple[int, str, str]:
    result = runner.invoke(cli, ["chat", *args], input=input, env=ENV)
    return result.exit_code, result.stdout, result.stderr


def _ingest(tmp_path: Path, *args: str) -> None:
    root = write_files(tmp_path / "docs", SAMPLE_FILES)
    assert runner.invoke(cli, ["ingest", str(root), *args]).exit_code == 0


def test_each_conversation_is_saved_as_json_lines(
    tmp_path: Path, fake_models: ScriptedChatModel
) -> None:
    _ingest(tmp_path)
    code, _, err = _chat(input="When does the backup run?\n")
    assert code == 0, err
    [saved] = list(chats_dir().glob("*.jsonl"))
    records = [json.loads(line) for line in saved.read_text(encoding="utf-8").splitlines()]
    assert records[0]["type"] == "conversation" and records[0]["id"] == saved.stem
    turn = records[1]
    assert (turn["question"], turn["answer"], turn["collection"]) == (
        "When does the backup run?",
        BACKUP_REPLY,
        "default",
    )
    assert "backup.txt" in [source["source"] for source in turn["sources"]]
    assert all(source["text"] for source in turn["sources"])
    assert _chat("--no-save", input="When does the backup run?\n")[0] == 0
    assert len(list(chats_dir().glob("*.jsonl"))) == 1


def test_list_and_resume_continue_a_conversation(
    tmp_path: Path, fake_models: ScriptedChatModel
) -> None:
    _ingest(tmp_path)
    assert "No saved conversations yet" in _chat("--list", input="")[1]
    assert _chat(input="When does the backup run?\n")[0] == 0
    code, out, _ = _chat("--list", input="")
    assert code == 0
    header, row = out.splitlines()
    assert header.split()[:4] == ["id", "started", "collection", "answers"]
    conversation_id = row.split()[0]
    assert row.split()[2:4] == ["default", "1"] and row.endswith("When does the backup run?")

    fake_models.rewrites["which port"] = "Which port does Ollama listen on?"
    saved = tmp_path / "talk.md"
    script = f"/sources\nWhich port does Ollama use?\n/save {saved}\n"
    code, out, err = _chat("--resume", conversation_id[:15], input=script)
    assert code == 0, err
    assert f"continuing conversation {conversation_id}: 1 earlier answers" in err
    assert "[1] " in out and "backup.txt chunk 0" in out  # /sources of the resumed answer
    # the follow-up was rewritten with the resumed history, so the model saw it
    assert "(searched for: Which port does Ollama listen on?)" in out and PORT_REPLY in out
    markdown = saved.read_text(encoding="utf-8")
    assert (
        "## When does the backup run?" in markdown and "## Which port does Ollama use?" in markdown
    )
    assert "saved 2 answers" in out
    assert len(list(chats_dir().glob("*.jsonl"))) == 1  # the same conversation grew
    assert "2" in _chat("--list", input="")[1].splitlines()[1].split()[3]

    fake_models.rewrites["when does the backup"] = "When does the backup run?"
    code, _, err = _chat("--resume", input="When does the backup run?\n")  # the latest
    assert code == 0 and "3 earlier answers" not in err and "2 earlier answers" in err


def test_resume_errors_are_one_line(fake_models: ScriptedChatModel) -> None:
    code, _, err = _chat("--resume", input="")
    assert code == 1 and "no saved conversation yet" in err
    code, _, err = _chat("--resume", "2001", input="")
    assert code == 1 and "no conversation with id '2001'" in err
    code, _, err = _chat("--resume", "../x", input="")
    assert code == 2 and "is not a conversation id" in err
    code, _, err = _chat("abc", input="")
    assert code == 2 and "goes with --resume" in err


def test_collection_command_switches_collections(
    tmp_path: Path, fake_models: ScriptedChatModel
) -> None:
    _ingest(tmp_path)
    other = write_files(tmp_path / "other", {"vpn.md": "The VPN gateway is vpn.example.org."})
    assert runner.invoke(cli, ["ingest", str(other), "-c", "work"]).exit_code == 0
    script = "/collection\n/collection nope\n/collection a/b\n/collection work\n/collection\n"
    code, out, _ = _chat(input=script)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("collection: default (")
    assert "no index at" in lines[1] and "RAG_COLLECTION" in lines[2]
    assert lines[3].startswith("asking collection work (") and lines[4].startswith(
        "collection: work"
    )
