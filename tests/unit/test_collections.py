"""Collections: indexes in the user data folder, found from any working folder, kept apart."""

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli.commands import cli
from app.config.paths import collections_dir, resolve_index_dir, validate_collection_name
from app.errors import ConfigError
from tests.unit.conftest import SAMPLE_FILES, ScriptedChatModel, write_files

runner = CliRunner()


def _rag(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(cli, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


def _sources(*args: str) -> set[str]:
    code, out, err = _rag("ask", "--json", "--retrieve-only", *args)
    assert code == 0, err
    return {source["source"] for source in json.loads(out)["sources"]}


def test_an_ingest_from_one_folder_is_found_from_another(
    tmp_path: Path, fake_models: ScriptedChatModel
) -> None:
    docs = write_files(tmp_path / "docs", SAMPLE_FILES)
    assert _rag("ingest", str(docs))[0] == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.chdir(elsewhere)
    assert "backup.txt" in _sources("When does the backup run?")
    assert (collections_dir() / "default" / "CURRENT").is_file()
    assert not (tmp_path / "work" / "data").exists()


def test_two_collections_answer_independently_and_drop_removes_one(
    tmp_path: Path, fake_models: ScriptedChatModel
) -> None:
    work = write_files(tmp_path / "work-docs", {"vpn.md": "The VPN gateway is vpn.example.org."})
    thesis = write_files(tmp_path / "thesis", {"ch1.md": "Chapter one studies river deltas."})
    assert _rag("ingest", str(work), "--collection", "work")[0] == 0
    assert _rag("--collection", "thesis", "ingest", str(thesis))[0] == 0
    assert _sources("VPN gateway", "--collection", "work") == {"vpn.md"}
    assert _sources("river deltas", "-c", "thesis") == {"ch1.md"}
    code, out, _ = _rag("collections", "--json")
    listed = {c["name"]: c for c in json.loads(out)}
    assert code == 0 and set(listed) == {"thesis", "work"}
    assert (listed["work"]["files"], listed["work"]["chunks"]) == (1, 1)
    assert listed["work"]["embedding"].startswith("huggingface:")
    assert listed["work"]["last_ingest"] and listed["work"]["size_bytes"] > 0
    table = _rag("collections")[1]
    assert "thesis" in table and "last ingest" in table
    assert _rag("status", "--all") == (0, table, "")

    code, _, _ = _rag("drop", "work", input="n\n")
    assert code == 1  # not confirmed: nothing dropped
    assert _sources("VPN gateway", "-c", "work") == {"vpn.md"}
    code, out, _ = _rag("drop", "work", "--yes")
    assert code == 0 and "Dropped collection 'work'" in out
    code, _, err = _rag("ask", "VPN", "--retrieve-only", "-c", "work")
    assert code == 1 and "no index at" in err
    assert _sources("river deltas", "-c", "thesis") == {"ch1.md"}
    assert [c["name"] for c in json.loads(_rag("collections", "--json")[1])] == ["thesis"]
    code, _, err = _rag("drop", "work", "--yes")
    assert code == 1 and "no collection named 'work'" in err


@pytest.mark.parametrize("name", ["a/b", "..", "../x", ".hidden", "", "a\\b", "x" * 65])
def test_a_bad_collection_name_is_a_usage_error(
    name: str, fake_models: ScriptedChatModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = _rag("ask", "anything", "--collection", name)
    assert code == 2
    assert err.startswith("error: RAG_COLLECTION ") and len(err.strip().splitlines()) == 1
    assert _rag("drop", name, "--yes")[0] == 2
    monkeypatch.setenv("RAG_COLLECTION", name or " ")
    assert _rag("status")[0] == 2


def test_names_others_can_use() -> None:
    for name in ("default", "work", "thesis-2026", "notes_v1.2", "Über"):
        assert validate_collection_name(name) == name
    with pytest.raises(ConfigError, match="not allowed"):
        validate_collection_name("a/b")


def test_an_old_data_index_in_the_working_folder_keeps_working(
    tmp_path: Path, fake_models: ScriptedChatModel
) -> None:
    docs = write_files(tmp_path / "docs", SAMPLE_FILES)
    assert _rag("--index-dir", "data/index", "ingest", str(docs))[0] == 0
    code, out, err = _rag("ask", "--json", "--retrieve-only", "When does the backup run?")
    assert code == 0 and "backup.txt" in out
    note = [line for line in err.splitlines() if "data/index" in line]
    assert len(note) == 1 and "RAG_INDEX_DIR=data/index" in note[0] and "mv data/index" in note[0]
    assert not (collections_dir() / "default").exists()
    # another collection is not the old index
    assert _rag("ask", "backup", "--retrieve-only", "-c", "other")[0] == 1


def test_rag_index_dir_wins_over_the_collection(tmp_path: Path) -> None:
    exact = tmp_path / "exact"
    assert resolve_index_dir(exact, "default") == (exact, None)
    folder, note = resolve_index_dir(exact, "work")
    assert folder == exact and note is not None and "collection 'work' is not" in note
    assert resolve_index_dir(None, "work")[0] == collections_dir() / "work"
