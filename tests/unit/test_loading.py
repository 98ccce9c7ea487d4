import hashlib
from pathlib import Path

import pytest

from app.errors import InputPathError
from app.ingestion.loading import SkippedFile, check_paths, load_paths
from tests.unit.conftest import SAMPLE_FILES, write_files


def test_folder_is_loaded_recursively_with_metadata(tmp_path: Path) -> None:
    root = write_files(tmp_path / "docs", SAMPLE_FILES)
    result = load_paths([root], max_file_bytes=10**6)
    by_source = {item.source: item for item in result.files}
    assert sorted(by_source) == ["backup.txt", "notes/page.html", "ollama.md"]
    assert result.unsupported == 1
    assert result.skipped == []
    ollama = by_source["ollama.md"]
    expected_hash = hashlib.sha256((root / "ollama.md").read_bytes()).hexdigest()
    assert ollama.content_hash == expected_hash
    metadata = ollama.documents[0].metadata
    assert metadata["source"] == "ollama.md"
    assert metadata["page"] is None
    assert metadata["title"] == "Ollama"
    assert metadata["content_hash"] == expected_hash
    html = by_source["notes/page.html"].documents[0]
    assert "var x" not in html.page_content
    assert html.metadata["title"] == "Proxy notes"


def test_bad_files_are_skipped_with_one_reason_each(tmp_path: Path) -> None:
    root = write_files(
        tmp_path / "docs",
        {
            "good.md": "useful text",
            "binary.txt": b"\x00\x01\x02\x03 binary",
            "empty.txt": "",
            "broken.pdf": b"%PDF-1.4 not really",
            "big.txt": "x" * 3000,
        },
    )
    warnings: list[SkippedFile] = []
    result = load_paths([root], max_file_bytes=2048, on_skip=warnings.append)
    assert [item.source for item in result.files] == ["good.md"]
    reasons = {Path(s.path).name: s.reason for s in result.skipped}
    assert reasons["binary.txt"].startswith("binary file")
    assert reasons["empty.txt"] == "empty file"
    assert reasons["broken.pdf"].startswith("broken PDF")
    assert reasons["big.txt"].startswith("larger than")
    assert warnings == result.skipped


def test_a_single_file_is_its_own_root(tmp_path: Path) -> None:
    root = write_files(tmp_path / "docs", {"deep/one.txt": "alone"})
    result = load_paths([root / "deep" / "one.txt"], max_file_bytes=10**6)
    assert [item.source for item in result.files] == ["one.txt"]


def test_missing_path_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputPathError, match="missing/path"):
        check_paths([tmp_path / "missing" / "path"])
