"""What ``rag watch`` ignores, and how it treats the folders it watches (pure parts)."""

from pathlib import Path

import pytest

from app.ingestion.watching import is_ignored, watch_paths

ROOT = Path("/home/u/notes")


@pytest.mark.parametrize(
    "name",
    [
        ".plan.md.swp",
        "plan.md.swp",
        "plan.md.swx",
        "plan.md~",
        "#plan.md#",
        ".#plan.md",
        "4913",
        "~$report.docx",
        "report.docx.tmp",
        "film.mkv.part",
        ".git/index",
        "sub/.hidden/a.md",
        "a.md.goutputstream-X1Y2Z3",
    ],
)
def test_temporary_swap_and_hidden_files_are_ignored(name: str) -> None:
    assert is_ignored(ROOT / name, [ROOT])


@pytest.mark.parametrize("name", ["plan.md", "sub/report.pdf", "swap.md", "a~b.md", "temp/x.md"])
def test_documents_are_watched(name: str) -> None:
    assert not is_ignored(ROOT / name, [ROOT])


def test_the_index_itself_is_ignored_and_a_hidden_parent_of_a_root_is_not() -> None:
    index = ROOT / "data" / "index"
    assert is_ignored(index / "snapshot-1" / "manifest.json", [ROOT], [index])
    hidden_root = Path("/home/u/.notes")
    assert not is_ignored(hidden_root / "a.md", [hidden_root])


def test_roots_are_absolute_and_each_once(isolated_environment: Path) -> None:
    assert watch_paths([Path("docs"), Path("docs/"), Path("other")]) == [
        isolated_environment / "docs",
        isolated_environment / "other",
    ]
