"""PDF: a page of text per page (pypdf; pypdfium2 for damaged files; OCR for scanned pages)."""

from __future__ import annotations

import io
import logging

from app.ingestion.formats.model import Page, ParsedDocument, UnreadableDocument
from app.ingestion.formats.ocr import ocr_engine, ocr_hint, ocr_pdf_pages

PDF_SUFFIXES = frozenset({".pdf"})


def parse_pdf(data: bytes, fallback_title: str, ocr: str = "auto") -> ParsedDocument:
    """One page of text per PDF page, in page order.

    A file pypdf cannot read, or finds no text in (a damaged cross-reference table or page
    tree), is read with PDFium before it is given up, and says so in a warning. Pages with
    no text layer are read by OCR (``ocr`` is RAG_OCR: auto, off or force).
    """
    notes: list[str] = []
    title: str | None = None
    try:
        title, pages = _read_with_pypdf(data)
    except UnreadableDocument as error:
        if str(error).startswith("encrypted"):
            raise
        pages = _second_opinion(data, error, notes)
    if not pages:
        pages = _second_opinion(data, UnreadableDocument("found no text"), notes, quiet=True)
    pages = _with_ocr(data, pages, ocr, notes, fallback_title)
    return ParsedDocument(title or fallback_title, pages, None, tuple(notes))


def _second_opinion(
    data: bytes, error: UnreadableDocument, notes: list[str], quiet: bool = False
) -> tuple[Page, ...]:
    """The pages PDFium reads where pypdf failed (none when it finds no text either)."""
    try:
        pages = _read_with_pdfium(data)
    except UnreadableDocument:
        if quiet:
            return ()
        raise error from None
    if pages:
        notes.append(f"damaged PDF read with pypdfium2 (pypdf: {error})")
    elif not quiet:
        raise error
    return pages


def _with_ocr(
    data: bytes, pages: tuple[Page, ...], mode: str, notes: list[str], what: str
) -> tuple[Page, ...]:
    """The pages, with those that have no text layer (every page, when forced) read by OCR."""
    count = page_count(data)
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


def page_count(data: bytes) -> int:
    """How many pages PDFium finds (0 when it cannot open the file)."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError:
        return 0
    try:
        return len(document)
    finally:
        document.close()


def _read_with_pypdf(data: bytes) -> tuple[str | None, tuple[Page, ...]]:
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
    except UnreadableDocument:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as error:
        raise UnreadableDocument(f"broken PDF ({error})") from None
    except Exception as error:  # pypdf raises many kinds on hostile files
        raise UnreadableDocument(f"broken PDF ({type(error).__name__}: {error})") from None
    return (str(metadata_title) if metadata_title else None), pages


def _read_with_pdfium(data: bytes) -> tuple[Page, ...]:
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(data)
        pages = []
        for number in range(1, len(document) + 1):
            text_page = document[number - 1].get_textpage()
            text = text_page.get_text_range().replace("\r\n", "\n").strip()
            if text:
                pages.append(Page(text, number))
        document.close()
    except pdfium.PdfiumError as error:
        raise UnreadableDocument(f"broken PDF ({error})") from None
    return tuple(pages)
