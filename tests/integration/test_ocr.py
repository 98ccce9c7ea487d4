"""Scanned pages and images are read by OCR; with RAG_OCR=off they are skipped, saying why."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.conftest import rag_env, run_json, run_rag
from tests.support.documents import make_scanned_pdf, text_image

pytestmark = pytest.mark.integration

SCANNED = ["Invoice 4471 for one narwhal tusk", "delivered to the harbour museum."]
PHOTO = ["The whiteboard says the kiln fires on Friday."]


@pytest.fixture
def scans(tmp_path: Path) -> Path:
    folder = tmp_path / "scans"
    folder.mkdir()
    make_scanned_pdf(folder / "invoice.pdf", SCANNED)
    text_image(PHOTO, height=200).save(folder / "whiteboard.png")
    (folder / "note.md").write_text("# Note\n\nThe kiln is in the shed.", encoding="utf-8")
    return folder


def test_a_scanned_pdf_page_and_an_image_are_found_by_their_words(
    scans: Path, tmp_path: Path
) -> None:
    env = rag_env(tmp_path / "index")
    report = run_json(["ingest", str(scans), "--json"], env)
    assert report["skipped"] == []
    assert report["total_files"] == 3

    hits = run_json(["ask", "narwhal tusk invoice", "--retrieve-only", "--json"], env)
    best = hits["sources"][0]
    assert (best["source"], best["page"]) == ("invoice.pdf", 1)
    assert "narwhal" in best["text"].lower()

    hits = run_json(["ask", "When does the kiln fire?", "--retrieve-only", "--json"], env)
    assert hits["sources"][0]["source"] == "whiteboard.png"
    assert "friday" in hits["sources"][0]["text"].lower()


def test_with_ocr_off_the_scanned_page_is_skipped_with_a_warning_naming_ocr(
    scans: Path, tmp_path: Path
) -> None:
    env = rag_env(tmp_path / "index", RAG_OCR="off")
    result = run_rag(["ingest", str(scans)], env)
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert warnings == [
        f"warning: skipped {scans / 'invoice.pdf'}: PDF has no text layer (scanned?) and "
        "OCR is off (RAG_OCR=off)"
    ]
    assert "ignored 1 files of other types" in result.stdout  # the image, unread without OCR
