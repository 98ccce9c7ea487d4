"""PDF: one page of text per page that has a text layer (pypdf, then pypdfium2 if damaged)."""

from __future__ import annotations

import io
import logging

from app.ingestion.formats.model import Page, ParsedDocument, UnreadableDocument

PDF_SUFFIXES = frozenset({".pdf"})
NO_TEXT_LAYER = "PDF has no text layer (scanned? OCR is off: set RAG_OCR=auto)"


def parse_pdf(data: bytes, fallback_title: str) -> ParsedDocument:
    """One page of text per PDF page that has a text layer.

    A file pypdf cannot read, or finds no text in (a damaged cross-reference table or page
    tree), is read with PDFium before it is given up, and says so in a warning.
    """
    try:
        title, pages = _read_with_pypdf(data)
    except UnreadableDocument as error:
        if str(error).startswith("encrypted"):
            raise
        return _second_opinion(data, fallback_title, error)
    if not pages:
        try:
            return _second_opinion(data, fallback_title, UnreadableDocument("found no text"))
        except UnreadableDocument:
            raise UnreadableDocument(NO_TEXT_LAYER) from None
    return ParsedDocument(title or fallback_title, pages)


def _second_opinion(data: bytes, fallback_title: str, error: UnreadableDocument) -> ParsedDocument:
    """The pages PDFium reads where pypdf failed, or pypdf's reason when PDFium finds none."""
    try:
        pages = _read_with_pdfium(data)
    except UnreadableDocument:
        raise error from None
    if not pages:
        raise error
    note = f"damaged PDF read with pypdfium2 (pypdf: {error})"
    return ParsedDocument(fallback_title, pages, None, (note,))


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
    try:
        import pypdfium2 as pdfium
    except ImportError:
        raise UnreadableDocument("pypdfium2 is not installed") from None
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
