"""PDF: a page of text per page, tables as Markdown, running headers and footers dropped.

PDFium (pypdfium2) reads the text: about four times as fast as pypdf, with the same words
(benchmarks/formats.py). pypdf reads what PDFium cannot (a damaged document catalogue), and
pdfplumber turns the tables of the pages that have ruled cells into Markdown tables. A page
set in two columns (a clear gutter with prose on both sides) is read left column, then right.
Pages without a text layer go to OCR.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from app.ingestion.formats.model import Page, ParsedDocument, UnreadableDocument
from app.ingestion.formats.ocr import ocr_engine, ocr_hint, ocr_pdf_pages
from app.ingestion.formats.sheets import table_markdown

PDF_SUFFIXES = frozenset({".pdf"})
MIN_TABLE_RULES, MAX_TABLE_RULES = 4, 2000
"""Pages with this many drawn paths (cell borders) are searched for tables; more is a drawing."""


def parse_pdf(data: bytes, fallback_title: str, ocr: str = "auto") -> ParsedDocument:
    """One page of text per PDF page, in page order.

    A file PDFium cannot open, or finds no text in, is read with pypdf before it is given
    up, and says so in a warning. Pages with no text layer are read by OCR (``ocr`` is
    RAG_OCR: auto, off or force).
    """
    notes: list[str] = []
    try:
        title, pages, count = _read_with_pdfium(data)
    except UnreadableDocument as error:
        if str(error).startswith("encrypted"):
            raise
        title, pages, count = _second_opinion(data, error, notes)
    if not pages:
        with contextlib.suppress(UnreadableDocument):
            title, pages, count = _second_opinion(data, UnreadableDocument("no text"), notes)
    pages = _with_ocr(data, drop_running_lines(pages), count, ocr, notes, fallback_title)
    return ParsedDocument(title or fallback_title, pages, None, tuple(notes))


def _second_opinion(
    data: bytes, error: UnreadableDocument, notes: list[str]
) -> tuple[str | None, tuple[Page, ...], int]:
    """What pypdf reads where PDFium failed; PDFium's reason when pypdf fails too."""
    try:
        title, pages, count = _read_with_pypdf(data)
    except UnreadableDocument:
        raise error from None
    if pages:
        notes.append(f"damaged PDF read with pypdf (pypdfium2: {error})")
    return title, pages, count


def _with_ocr(
    data: bytes, pages: tuple[Page, ...], count: int, mode: str, notes: list[str], what: str
) -> tuple[Page, ...]:
    """The pages, with those that have no text layer (every page, when forced) read by OCR."""
    with_text = {page.number for page in pages}
    wanted = [n for n in range(1, count + 1) if mode == "force" or n not in with_text]
    if not wanted:
        return pages
    if mode == "off" or ocr_engine() is None:
        why = "OCR is off (RAG_OCR=off)" if mode == "off" else f"no OCR engine: {ocr_hint()}"
        if not pages:
            raise UnreadableDocument(f"PDF has no text layer (scanned?) and {why}")
        notes.append(f"{len(wanted)} of {count} pages have no text layer, left out: {why}")
        return pages
    read = {page.number: page for page in ocr_pdf_pages(data, wanted, what)}
    merged = {page.number: page for page in pages} | read
    if not merged:
        raise UnreadableDocument("PDF has no text layer and OCR found no text in it")
    notes.append(f"OCR read {len(read)} of {count} pages (no text layer)")
    return tuple(merged[number] for number in sorted(n for n in merged if n is not None))


_DIGITS = re.compile(r"\d+")


def drop_running_lines(pages: Sequence[Page]) -> tuple[Page, ...]:
    """Pages without the header and footer lines repeated on most pages (page numbers too)."""
    if len(pages) < 3:
        return tuple(pages)
    edges = Counter(
        key for page in pages for key in {_line_key(line) for line in _edge_lines(page.text)}
    )
    running = {key for key, seen in edges.items() if key and seen >= 0.6 * len(pages)}
    if not running:
        return tuple(pages)
    kept = []
    for page in pages:
        lines = page.text.split("\n")
        edge = set(range(2)) | set(range(len(lines) - 2, len(lines)))
        text = "\n".join(
            line
            for number, line in enumerate(lines)
            if not (number in edge and _line_key(line) in running)
        ).strip()
        if text:
            kept.append(Page(text, page.number, page.label, page.table_header))
    return tuple(kept)


def _edge_lines(text: str) -> list[str]:
    lines = text.split("\n")
    return lines[:2] + lines[-2:]


def _line_key(line: str) -> str:
    return _DIGITS.sub("#", " ".join(line.split()).lower())


def _read_with_pdfium(data: bytes) -> tuple[str | None, tuple[Page, ...], int]:
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as error:
        if "password" in str(error).lower():
            raise UnreadableDocument("encrypted PDF (needs a password)") from None
        raise UnreadableDocument(f"broken PDF ({error})") from None
    try:
        texts, ruled = [], []
        for index in range(len(document)):
            page = document[index]
            texts.append(_page_text(page.get_textpage(), page.get_width(), page.get_height()))
            paths = page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_PATH], max_depth=2)
            drawn = sum(1 for _ in zip(range(MAX_TABLE_RULES + 1), paths, strict=False))
            if MIN_TABLE_RULES <= drawn <= MAX_TABLE_RULES:
                ruled.append(index + 1)
        title = str(document.get_metadata_dict().get("Title") or "").strip() or None
        count = len(document)
    except pdfium.PdfiumError as error:
        raise UnreadableDocument(f"broken PDF ({error})") from None
    finally:
        document.close()
    pages = {n: Page(text, n) for n, text in enumerate(texts, start=1) if text}
    pages.update(_table_pages(data, [n for n in ruled if n in pages]))
    return title, tuple(pages[n] for n in sorted(pages)), count


Box = tuple[float, float, float, float]
"""A text rectangle in PDF points: left, bottom, right, top."""
MIN_COLUMN_LINES = 4
"""Text lines each side of a gutter needs before a page is read as two columns."""


def _page_text(textpage: Any, width: float, height: float) -> str:
    """The page's text; a two-column page's left column first, then its right one."""
    boxes = [textpage.get_rect(i) for i in range(textpage.count_rects())]
    columns = two_columns(boxes, width)
    if columns is None:
        text = textpage.get_text_range()
    else:
        gutter, bottom, top = columns
        parts = (
            textpage.get_text_bounded(0, top, width, height),
            textpage.get_text_bounded(0, bottom, gutter, top),
            textpage.get_text_bounded(gutter, bottom, width, top),
            textpage.get_text_bounded(0, 0, width, bottom),
        )
        text = "\n".join(part.strip() for part in parts if part.strip())
    return str(text).replace("\r\n", "\n").strip()


def two_columns(boxes: Sequence[Box], width: float) -> tuple[float, float, float] | None:
    """(gutter x, bottom, top) of the band a page is set in two columns, or None.

    Two columns: a clear vertical gap in the middle half of the page, with lines of prose
    (each over a fifth of the page wide) on both sides for most of the text's height, and
    nothing crossing the gap inside that band (a title above or a footer below may).
    """
    if len(boxes) < 2 * MIN_COLUMN_LINES:
        return None
    low, high = 0.25 * width, 0.75 * width
    covered = sorted(
        (min(max(b[0], low), high), max(min(b[2], high), low))
        for b in boxes
        if b[2] - b[0] < 0.6 * width
    )
    gap, start = (0.0, 0.0), low
    for left, right in covered:
        if left > start and left - start > gap[1] - gap[0]:
            gap = (start, left)
        start = max(start, right)
    if high - start > gap[1] - gap[0]:
        gap = (start, high)
    if gap[1] - gap[0] < 0.02 * width:
        return None
    gutter = (gap[0] + gap[1]) / 2
    sides = [[b for b in boxes if b[2] <= gutter], [b for b in boxes if b[0] >= gutter]]
    if any(
        len(side) < MIN_COLUMN_LINES or sum(b[2] - b[0] for b in side) < 0.2 * width * len(side)
        for side in sides
    ):
        return None
    bottom = min(b[1] for side in sides for b in side)
    top = max(b[3] for side in sides for b in side)
    shared = min(max(b[3] for b in side) for side in sides) - max(
        min(b[1] for b in side) for side in sides
    )
    text_height = max(b[3] for b in boxes) - min(b[1] for b in boxes)
    crossing = [b for b in boxes if b[0] < gutter < b[2]]
    if shared < 0.5 * text_height or any(b[1] < top and b[3] > bottom for b in crossing):
        return None
    return gutter, bottom, top


def _table_pages(data: bytes, numbers: Sequence[int]) -> dict[int, Page]:
    """The given pages read by pdfplumber when it finds tables there: text, then tables."""
    if not numbers:
        return {}
    try:
        import pdfplumber
    except ImportError:
        return {}
    found = {}
    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            for number in numbers:
                text = _page_with_tables(pdf.pages[number - 1])
                if text:
                    found[number] = Page(text, number)
    except Exception:  # pdfminer raises many kinds on odd files; PDFium's text stands
        return found
    return found


def _page_with_tables(page: Any) -> str | None:
    """Text above, beside and below each table, each table as Markdown, in reading order."""
    tables = sorted(page.find_tables(), key=lambda table: table.bbox[1])
    if not tables:
        return None
    parts, top = [], 0.0
    for table in tables:
        _, table_top, _, bottom = table.bbox
        if table_top > top:
            parts.append(page.crop((0, top, page.width, table_top)).extract_text() or "")
        markdown = table_markdown(table.extract())
        if markdown is not None:
            parts.append(markdown[1])
        band = page.crop((0, table_top, page.width, bottom)).outside_bbox(table.bbox)
        parts.append(band.extract_text() or "")
        top = bottom
    if top < page.height:
        parts.append(page.crop((0, top, page.width, page.height)).extract_text() or "")
    return "\n\n".join(part.strip() for part in parts if part.strip())


def _read_with_pypdf(data: bytes) -> tuple[str | None, tuple[Page, ...], int]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableDocument("encrypted PDF (needs a password)")
        pages = tuple(
            Page(text, number)
            for number, page in enumerate(reader.pages, start=1)
            if (text := (page.extract_text() or "").strip())
        )
        metadata_title = reader.metadata.title if reader.metadata else None
        count = len(reader.pages)
    except UnreadableDocument:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as error:
        raise UnreadableDocument(f"broken PDF ({error})") from None
    except Exception as error:  # pypdf raises many kinds on hostile files
        raise UnreadableDocument(f"broken PDF ({type(error).__name__}: {error})") from None
    return (str(metadata_title) if metadata_title else None), pages, count
