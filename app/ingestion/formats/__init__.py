"""Turn file bytes into text, one module per format family.

Everything here is pure (bytes in, text out) so it can be tested without files.
"""

from __future__ import annotations

from collections.abc import Callable

from app.ingestion.formats.archive import sniff
from app.ingestion.formats.code import (
    CODE_SUFFIXES,
    DATA_SUFFIXES,
    NOTEBOOK_SUFFIXES,
    parse_code,
    parse_notebook,
)
from app.ingestion.formats.epub import EPUB_SUFFIXES, parse_epub
from app.ingestion.formats.html import HTML_SUFFIXES, html_to_text
from app.ingestion.formats.mail import EML_SUFFIXES, MBOX_SUFFIXES, parse_eml, parse_mbox
from app.ingestion.formats.model import Page, ParsedDocument, UnreadableDocument
from app.ingestion.formats.ocr import IMAGE_SUFFIXES, OCR_MODES, ocr_engine, parse_image
from app.ingestion.formats.office import DOCX_SUFFIXES, PPTX_SUFFIXES, parse_docx, parse_pptx
from app.ingestion.formats.opendocument import ODF_SUFFIXES, parse_opendocument
from app.ingestion.formats.pdf import PDF_SUFFIXES, parse_pdf
from app.ingestion.formats.sheets import (
    DELIMITED_SUFFIXES,
    XLSX_SUFFIXES,
    parse_delimited,
    parse_xlsx,
)
from app.ingestion.formats.text import (
    RTF_SUFFIXES,
    TEXT_SUFFIXES,
    decode_text,
    markdown_title,
    rtf_to_text,
)

__all__ = [
    "OCR_MODES",
    "SUPPORTED_SUFFIXES",
    "Page",
    "ParsedDocument",
    "UnreadableDocument",
    "decode_text",
    "html_to_text",
    "markdown_title",
    "parse_document",
    "parse_pdf",
    "readable_suffixes",
]

Parser = Callable[[bytes, str, str], ParsedDocument]
OcrParser = Callable[[bytes, str, str], ParsedDocument]
"""Reads bytes given a title and the RAG_OCR mode."""


def _parse_text(data: bytes, suffix: str, fallback_title: str) -> ParsedDocument:
    text = decode_text(data)
    return ParsedDocument(markdown_title(text) or fallback_title, (Page(text),))


def _parse_html(data: bytes, suffix: str, fallback_title: str) -> ParsedDocument:
    title, visible = html_to_text(decode_text(data))
    return ParsedDocument(title or fallback_title, (Page(visible),))


def _parse_rtf(data: bytes, suffix: str, fallback_title: str) -> ParsedDocument:
    return ParsedDocument(fallback_title, (Page(rtf_to_text(data)),))


def _read_attachment(data: bytes, suffix: str, name: str) -> ParsedDocument:
    """A mail attachment, read without OCR: a logo in every signature would cost seconds each."""
    if suffix in IMAGE_SUFFIXES:
        raise UnreadableDocument(f"unsupported file type {suffix}")
    return parse_document(data, suffix, name, "off")


def _ignoring_suffix(parse: Callable[[bytes, str], ParsedDocument]) -> Parser:
    return lambda data, suffix, title: parse(data, title)


_PARSERS: list[tuple[frozenset[str], Parser]] = [
    (TEXT_SUFFIXES | DATA_SUFFIXES, _parse_text),
    (HTML_SUFFIXES, _parse_html),
    (DOCX_SUFFIXES, _ignoring_suffix(parse_docx)),
    (PPTX_SUFFIXES, _ignoring_suffix(parse_pptx)),
    (XLSX_SUFFIXES, _ignoring_suffix(parse_xlsx)),
    (DELIMITED_SUFFIXES, parse_delimited),
    (ODF_SUFFIXES, parse_opendocument),
    (EPUB_SUFFIXES, _ignoring_suffix(parse_epub)),
    (EML_SUFFIXES, lambda data, suffix, title: parse_eml(data, title, _read_attachment)),
    (MBOX_SUFFIXES, lambda data, suffix, title: parse_mbox(data, title, _read_attachment)),
    (RTF_SUFFIXES, _parse_rtf),
    (NOTEBOOK_SUFFIXES, _ignoring_suffix(parse_notebook)),
    (CODE_SUFFIXES, parse_code),
]
_BY_SUFFIX: dict[str, Parser] = {
    suffix: parser for suffixes, parser in _PARSERS for suffix in suffixes
}
_WITH_OCR: dict[str, OcrParser] = {
    **dict.fromkeys(PDF_SUFFIXES, parse_pdf),
    **dict.fromkeys(IMAGE_SUFFIXES, parse_image),
}
SUPPORTED_SUFFIXES = frozenset(_BY_SUFFIX) | PDF_SUFFIXES
"""What is read without OCR (images need it, see ``readable_suffixes``)."""


def readable_suffixes(ocr: str) -> frozenset[str]:
    """The suffixes read with this RAG_OCR mode: images too when OCR is on and installed."""
    if ocr == "off" or ocr_engine() is None:
        return SUPPORTED_SUFFIXES
    return SUPPORTED_SUFFIXES | IMAGE_SUFFIXES


# What a file really is (by its bytes) -> the suffix to read it as when its own one lies.
_SUFFIX_OF_CONTENT = {
    "PDF": ".pdf",
    "DOCX": ".docx",
    "XLSX": ".xlsx",
    "PPTX": ".pptx",
    "EPUB": ".epub",
}


def parse_document(
    data: bytes, suffix: str, fallback_title: str, ocr: str = "auto"
) -> ParsedDocument:
    """Parse the bytes of a file with the given suffix (``.md``, ``.pdf``, ``.docx`` ...).

    A file whose bytes are another supported container than its suffix says (a PDF called
    ``.txt``, a workbook called ``.docx``) is read as what it is, with a warning. ``ocr`` is
    the RAG_OCR mode for scanned PDF pages and images.
    """
    suffix = suffix.lower()
    content = sniff(data)
    actual = _SUFFIX_OF_CONTENT.get(content or "")
    if actual is not None and _parser(suffix) is not _parser(actual):
        try:
            parsed = parse_document(data, actual, fallback_title, ocr)
        except UnreadableDocument:
            pass  # it only looked like one (a note that starts with "%PDF-"): read as named
        else:
            note = f"content is {content}, not what its {suffix or 'missing'} extension says"
            warnings = (note, *parsed.warnings)
            return ParsedDocument(parsed.title, parsed.pages, parsed.language, warnings)
    if suffix in _WITH_OCR:
        return _WITH_OCR[suffix](data, fallback_title, ocr)
    parser = _BY_SUFFIX.get(suffix)
    if parser is None:
        raise UnreadableDocument(f"unsupported file type {suffix or '(none)'}")
    return parser(data, suffix, fallback_title)


def _parser(suffix: str) -> object:
    return _WITH_OCR.get(suffix) or _BY_SUFFIX.get(suffix)
