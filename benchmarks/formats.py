"""Format benchmark: pages per second for each reader, and for OCR, measured in one run.

PDF text is read by pypdf (the baseline: ragkit's reader before PDFium), pypdfium2 (ragkit's
default) and pdfplumber (the table finder, run only on pages with ruled cells); the table
also checks that pypdfium2 and pypdf find the same words. Office, OpenDocument, EPUB and
e-mail files are made with the libraries that write them; "pages" are their Documents
(slides, sheets, chapters, messages). OCR reads a scanned page rendered from text. The
two-column PDF (lines written across both columns) takes ragkit's column-order path.

    python benchmarks/formats.py                # 40-page PDF, 3 OCR pages
    python benchmarks/formats.py --pages 200 --ocr-pages 10
"""

from __future__ import annotations

import argparse
import functools
import io
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.ingestion.formats import parse_document  # noqa: E402
from tests.support import documents as made  # noqa: E402


def timed(work: Callable[[], int], repeat: int = 3) -> tuple[float, int]:
    """Best wall time of ``repeat`` runs and the page count the work returned."""
    best, pages = float("inf"), 0
    for _ in range(repeat):
        started = time.perf_counter()
        pages = work()
        best = min(best, time.perf_counter() - started)
    return best, pages


def report_pdf(pages: int) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    for number in range(1, pages + 1):
        pdf.add_page()
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(0, 6, f"Page {number}: " + " ".join(made.PROSE * 8))
        if number % 4 == 0:
            with pdf.table() as table:
                for cells in made.TEA_TABLE:
                    row = table.row()
                    for cell in cells:
                        row.cell(cell)
    return bytes(pdf.output())


def pdf_rows(data: bytes) -> list[tuple[str, float, int, str]]:
    import pdfplumber
    import pypdfium2 as pdfium
    from pypdf import PdfReader

    def with_pypdf() -> int:
        return len([p.extract_text() for p in PdfReader(io.BytesIO(data)).pages])

    def with_pdfium() -> int:
        document = pdfium.PdfDocument(data)
        count = len([document[i].get_textpage().get_text_range() for i in range(len(document))])
        document.close()
        return count

    def with_pdfplumber() -> int:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            return len([(p.extract_text(), p.find_tables()) for p in pdf.pages])

    def with_ragkit() -> int:
        return len(parse_document(data, ".pdf", "report", "off").pages)

    words_pypdf = [p.extract_text().split() for p in PdfReader(io.BytesIO(data)).pages]
    document = pdfium.PdfDocument(data)
    words_pdfium = [
        document[i].get_textpage().get_text_range().split() for i in range(len(document))
    ]
    same = sum(a == b for a, b in zip(words_pypdf, words_pdfium, strict=True))
    agree = f"{same}/{len(words_pypdf)} pages same words as pypdf"
    return [
        ("PDF text, pypdf (baseline)", *timed(with_pypdf), ""),
        ("PDF text, pypdfium2", *timed(with_pdfium), agree),
        ("PDF text + tables, pdfplumber", *timed(with_pdfplumber, 1), "every page"),
        ("PDF, ragkit (pdfium + tables)", *timed(with_ragkit), "tables on 1 page in 4"),
    ]


def two_column_row(pages: int) -> tuple[str, float, int, str]:
    with tempfile.TemporaryDirectory() as folder:
        data = made.make_two_column_pdf(Path(folder) / "two.pdf", pages).read_bytes()
    seconds, count = timed(lambda: len(parse_document(data, ".pdf", "two", "off").pages))
    return ("PDF two columns, ragkit", seconds, count, "read left column, then right")


def format_rows(folder: Path) -> list[tuple[str, float, int, str]]:
    files = made.make_all(folder)
    files["long.xlsx"] = made.make_xlsx(folder / "long.xlsx", rows=5000)
    rows = []
    for name, path in files.items():
        data = path.read_bytes()
        seconds, pages = timed(functools.partial(_page_count, data, path.suffix, name))
        rows.append((name, seconds, pages, f"{len(data) // 1024} KB"))
    return rows


def _page_count(data: bytes, suffix: str, name: str) -> int:
    return len(parse_document(data, suffix, name, "off").pages)


def ocr_row(pages: int) -> tuple[str, float, int, str]:
    from app.ingestion.formats.ocr import ocr_engine

    scan = io.BytesIO()
    images = [made.text_image([f"Scanned page {n}", *made.PROSE]) for n in range(pages)]
    images[0].save(scan, "PDF", resolution=150, save_all=True, append_images=images[1:])
    data = scan.getvalue()
    parse_document(data, ".pdf", "warm-up", "auto")  # loads the models once
    seconds, count = timed(lambda: len(parse_document(data, ".pdf", "scan", "auto").pages), 1)
    return (f"OCR, {ocr_engine()} (scanned PDF)", seconds, count, "144 dpi")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=40, help="pages of the generated PDF")
    parser.add_argument("--ocr-pages", type=int, default=3, help="scanned pages for OCR")
    args = parser.parse_args()
    rows = pdf_rows(report_pdf(args.pages))
    rows.append(two_column_row(args.pages))
    with tempfile.TemporaryDirectory() as folder:
        rows += format_rows(Path(folder))
    rows.append(ocr_row(args.ocr_pages))
    print(f"| {'reader':34} | {'pages':>5} | {'seconds':>8} | {'pages/s':>8} | note |")
    print(f"|{'-' * 36}|{'-' * 7}|{'-' * 10}|{'-' * 10}|------|")
    for name, seconds, pages, note in rows:
        print(f"| {name:34} | {pages:5d} | {seconds:8.4f} | {pages / seconds:8.1f} | {note} |")


if __name__ == "__main__":
    main()
