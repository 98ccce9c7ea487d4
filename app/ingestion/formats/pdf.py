"""PDF: one page of text per page that has a text layer (pypdf)."""

from __future__ import annotations

import io
import logging

from app.ingestion.formats.model import Page, ParsedDocument, UnreadableDocument

PDF_SUFFIXES = frozenset({".pdf"})


def parse_pdf(data: bytes, fallback_title: str) -> ParsedDocument:
    """One page of text per PDF page that has a text layer."""
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
    if not pages:
        raise UnreadableDocument("PDF has no text layer (scanned? run OCR on it first)")
    return ParsedDocument(str(metadata_title or fallback_title), pages)
