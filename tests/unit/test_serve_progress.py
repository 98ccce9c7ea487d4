"""An ingest job reports files read of total (skips with reasons), then chunks embedded."""

from __future__ import annotations

from pathlib import Path

from app import Rag
from app.serve.jobs import IngestJobs
from tests.unit.conftest import ScriptedChatModel, write_files

FILES: dict[str, str | bytes] = {
    "a.md": "# A\n\nThe first note is about apples.\n",
    "b.txt": "The second note is about bananas.\n",
    "empty.md": "",
    "picture.xyz": "a file of another type, ignored and not counted",
    "sub/c.md": "# C\n\nThe third note is about cherries.\n",
}


def test_ingest_reports_each_file_read_or_skipped_of_the_files_to_read(
    tmp_path: Path, fake_models: ScriptedChatModel
) -> None:
    folder = write_files(tmp_path / "docs", FILES)
    seen: list[tuple[int, int]] = []
    report = Rag.from_settings().ingest(
        folder, on_skip=lambda _: None, on_file=lambda done, total: seen.append((done, total))
    )
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert report.files_added == 3 and report.unsupported == 1


def test_a_job_counts_files_done_of_total_and_names_the_skipped(
    tmp_path: Path, fake_models: ScriptedChatModel
) -> None:
    folder = write_files(tmp_path / "docs", FILES)
    jobs = IngestJobs(Rag.from_settings())
    job = jobs.start([folder], files_total=0)
    jobs.join(timeout=60)
    data = job.to_dict()
    assert data["state"] == "done", data
    assert (data["files_done"], data["files_total"]) == (4, 4)
    assert data["chunks_done"] == data["chunks_total"] > 0
    assert data["skipped"] == [{"path": str(folder / "empty.md"), "reason": "empty file"}]


def test_a_job_lists_files_read_with_a_warning_apart_from_the_skipped(
    tmp_path: Path, fake_models: ScriptedChatModel
) -> None:
    from tests.support.pdf import make_text_pdf

    folder = write_files(
        tmp_path / "docs",
        {"report.txt": make_text_pdf(["The quarterly report is about figs."]), "empty.md": ""},
    )
    jobs = IngestJobs(Rag.from_settings())
    job = jobs.start([folder], files_total=0)
    jobs.join(timeout=60)
    data = job.to_dict()
    assert data["state"] == "done", data
    assert data["skipped"] == [{"path": str(folder / "empty.md"), "reason": "empty file"}]
    assert [item["path"] for item in data["warned"]] == [str(folder / "report.txt")]
    assert "not what its .txt extension says" in data["warned"][0]["reason"]
