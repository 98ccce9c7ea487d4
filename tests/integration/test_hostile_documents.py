"""A folder of broken, hostile and lying documents beside good ones: exit 0, every skip said."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from retrievers.snapshots import current_snapshot
from tests.integration.conftest import rag_env, run_json, run_rag
from tests.support import documents as made
from tests.support.pdf import make_text_pdf

pytestmark = pytest.mark.integration


def _encrypted_pdf() -> bytes:
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_text_pdf(["secret plans"]))))
    writer.encrypt(user_password="secret", algorithm="AES-256")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _build(root: Path, scratch: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Write the corpus; return ({name: skip reason}, {name: warning}) for the bad files."""
    made.make_docx(root / "good.docx")
    (root / "good.md").write_text("# Notes\n\nThe ferry leaves at seven.", encoding="utf-8")
    docx = made.make_docx(scratch / "whole.docx").read_bytes()
    xlsx = made.make_xlsx(scratch / "whole.xlsx").read_bytes()
    epub = made.make_epub(scratch / "whole.epub").read_bytes()
    (root / "truncated.docx").write_bytes(docx[: len(docx) // 2])
    (root / "truncated.xlsx").write_bytes(xlsx[: len(xlsx) // 3])
    (root / "corrupt.epub").write_bytes(epub[:200] + b"\0" * 500 + epub[700:])
    made.make_zip_bomb(root / "bomb.docx")
    (root / "locked.docx").write_bytes(made.encrypted_docx(scratch / "whole.docx"))
    (root / "locked.pdf").write_bytes(_encrypted_pdf())
    (root / "huge.csv").write_bytes(b"id,value\n" + b"1234567,abcdefgh\n" * 80_000)
    (root / "tall.csv").write_bytes(b"n\n" + b"7\n" * 150_000)
    made.make_docx(root / "macros.docm", macro=True)
    (root / "workbook.docx").write_bytes(xlsx)
    (root / "pdf-named.txt").write_bytes(make_text_pdf(["A PDF that calls itself text."]))
    (root / "damaged.pdf").write_bytes(made.damaged_pdf("The glacier route is on the atlas."))
    skipped = {
        "truncated.docx": "not a DOCX file",
        "truncated.xlsx": "not an XLSX file",
        "corrupt.epub": "broken EPUB",
        "bomb.docx": "refused: DOCX declares 600 MB uncompressed",
        "locked.docx": "password-protected",
        "locked.pdf": "encrypted PDF",
        "huge.csv": "larger than 1 MB (RAG_MAX_FILE_MB)",
    }
    warned = {
        "tall.csv": "read the first 100000 rows only (row cap)",
        "macros.docm": "macros ignored (never run)",
        "workbook.docx": "content is XLSX, not what its .docx extension says",
        "pdf-named.txt": "content is PDF, not what its .txt extension says",
        "damaged.pdf": "damaged PDF read with pypdf",
    }
    return skipped, warned


def test_bad_documents_are_skipped_or_read_with_one_warning_each(tmp_path: Path) -> None:
    root, scratch = tmp_path / "docs", tmp_path / "scratch"
    root.mkdir()
    scratch.mkdir()
    skipped, warned = _build(root, scratch)
    index_dir = tmp_path / "index"
    env = rag_env(index_dir, RAG_MAX_FILE_MB="1")

    result = run_rag(["ingest", str(root)], env)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    for name, reason in {**skipped, **warned}.items():
        mine = [line for line in lines if f"/{name}: " in line]
        assert len(mine) == 1, (name, lines)
        assert reason in mine[0], mine[0]
        assert mine[0].startswith("warning: skipped ") == (name in skipped), mine[0]
    assert len(lines) == len(skipped) + len(warned)
    summary = result.stdout.strip()
    assert re.search(rf"skipped {len(skipped)} \(", summary), summary
    assert f"{len(warned)} read with warnings" in summary

    rows = [
        json.loads(line)
        for line in (current_snapshot(index_dir) / "docstore.jsonl").read_text("utf-8").splitlines()
    ]
    sources = {row["metadata"]["source"] for row in rows}
    assert sources == {"good.docx", "good.md", *warned}
    texts = "\n".join(row["text"] for row in rows)
    assert "Attribute VB_Name" not in texts  # the macro's source is never read as text

    hits = run_json(["ask", "Which route is on the atlas?", "--retrieve-only", "--json"], env)
    assert hits["sources"][0]["source"] == "damaged.pdf"
