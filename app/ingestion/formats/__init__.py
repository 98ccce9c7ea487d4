"""Turn file bytes into text, one module per format family (text, html, pdf).

Everything here is pure (bytes in, text out) so it can be tested without files.
"""

from __future__ import annotations

from app.ingestion.formats.html import HTML_SUFFIXES, html_to_text
from app.ingestion.formats.model import Page, ParsedDocument, UnreadableDocument
from app.ingestion.formats.pdf import PDF_SUFFIXES, parse_pdf
from app.ingestion.formats.text import TEXT_SUFFIXES, decode_text, markdown_title

SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES

__all__ = [
    "SUPPORTED_SUFFIXES",
    "Page",
    "ParsedDocument",
    "UnreadableDocument",
    "decode_text",
    "html_to_text",
    "markdown_title",
    "parse_document",
    "parse_pdf",
]


def parse_document(data: bytes, suffix: str, fallback_title: str) -> ParsedDocument:
    """Parse the bytes of a file with the given suffix (``.md``, ``.pdf``, ``.html`` ...)."""
    suffix = suffix.lower()
    if suffix in PDF_SUFFIXES:
        return parse_pdf(data, fallback_title)
    text = decode_text(data)
    if suffix in HTML_SUFFIXES:
        title, visible = html_to_text(text)
        return ParsedDocument(title or fallback_title, (Page(visible),))
    return ParsedDocument(markdown_title(text) or fallback_title, (Page(text),))
