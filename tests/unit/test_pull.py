"""The pure part of ``rag pull``: what a spec names, where it goes, how a download is checked."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from app.config.paths import models_dir
from app.errors import ProviderError, UsageError
from app.models.pull import (
    PRESETS,
    HubFile,
    PullResult,
    RemoteFile,
    check_download,
    parse_spec,
    partial_path,
    remote_file_of,
    sha256_of,
    target_path,
)
from tests.conftest import REPO_ROOT

SHA = "ab" * 32


def test_presets_are_the_three_tiers_and_match_the_models_doc() -> None:
    assert list(PRESETS) == ["fast", "balanced", "accurate"]
    doc = (REPO_ROOT / "docs" / "models.md").read_text(encoding="utf-8")
    for name, file in PRESETS.items():
        assert f"| `{name}` | `{file.repo_id}` | `{file.filename}` |" in doc
        assert file.filename.endswith(".gguf")
        assert parse_spec(name) == file


def test_a_repo_and_file_spec_splits_after_the_owner_and_name() -> None:
    assert parse_spec(" Qwen/Qwen2.5-3B-Instruct-GGUF/qwen2.5-3b-instruct-q4_k_m.gguf ") == (
        HubFile("Qwen/Qwen2.5-3B-Instruct-GGUF", "qwen2.5-3b-instruct-q4_k_m.gguf")
    )
    nested = parse_spec("owner/repo/Q4_K_M/model.GGUF")
    assert nested == HubFile("owner/repo", "Q4_K_M/model.GGUF")
    assert nested.spec == "owner/repo/Q4_K_M/model.GGUF"


@pytest.mark.parametrize(
    "spec", ["", "quick", "owner/model.gguf", "owner/repo/model.bin", "owner//model.gguf"]
)
def test_anything_else_is_a_usage_error_naming_the_forms(spec: str) -> None:
    with pytest.raises(UsageError, match=r"give a preset \(fast, balanced, accurate\)"):
        parse_spec(spec)


def test_the_models_folder_follows_xdg_data_home(tmp_path: Path) -> None:
    assert models_dir({"XDG_DATA_HOME": str(tmp_path)}) == tmp_path / "ragkit" / "models"
    home = Path.home() / ".local" / "share" / "ragkit" / "models"
    assert models_dir({}) == home
    assert models_dir({"XDG_DATA_HOME": "relative/data"}) == home  # invalid per the spec


def test_the_target_is_the_file_name_in_the_folder_and_the_partial_file_beside_it(
    tmp_path: Path,
) -> None:
    target = target_path(tmp_path, HubFile("owner/repo", "Q4_K_M/model.gguf"))
    assert target == tmp_path / "model.gguf"
    assert partial_path(target) == tmp_path / "model.gguf.part"


def test_the_hub_must_report_a_size_and_a_sha256() -> None:
    assert remote_file_of("u", 10, SHA.upper(), "o/r/f.gguf") == RemoteFile("u", 10, SHA)
    for size, etag in [(None, SHA), (10, "a-git-blob-sha1"), (10, None)]:
        with pytest.raises(ProviderError, match=r"reports no size and SHA-256 for o/r/f\.gguf"):
            remote_file_of("u", size, etag, "o/r/f.gguf")


def test_a_download_is_refused_for_a_wrong_size_or_sha256() -> None:
    expected = RemoteFile("u", 1_000, SHA)
    assert check_download(1_000, SHA, expected) is None
    assert check_download(999, SHA, expected) == "it has 999 bytes where the hub reports 1,000"
    assert check_download(1_000, "cd" * 32, expected) == (
        "its SHA-256 is cdcdcdcdcdcd… where the hub reports abababababab…"
    )


def test_sha256_of_a_file_can_continue_a_hash(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"second")
    digest = hashlib.sha256(b"first")
    assert sha256_of(path, digest).hexdigest() == hashlib.sha256(b"firstsecond").hexdigest()


def test_the_summary_says_where_what_size_checked_and_the_setting(tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    done = PullResult(path, 2_104_932_768, SHA, downloaded=True).summary()
    assert done == (
        f"Downloaded {path} (2.10 GB, sha256 abababababab… verified); "
        f"use it with RAG_LLM_MODEL={path}"
    )
    offline = PullResult(path, 98_362_432, "", downloaded=False, verified=False).summary()
    assert offline.startswith(
        f"Already there: {path} (98.4 MB, not checked against the hub (HF_HUB_OFFLINE=1))"
    )
