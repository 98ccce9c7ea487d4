"""Turn file bytes into text: decoding with fallbacks, HTML to visible text, PDF pages.

Everything here is pure (bytes in, text out) so it can be tested without files.
"""

from __future__ import annotations

import codecs
import io
import logging
from dataclasses import dataclass
from html.parser import HTMLParser

TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".rst", ".text"})
HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
PDF_SUFFIXES = frozenset({".pdf"})
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class UnreadableDocument(Exception):
    """The bytes cannot be turned into text; the message is the reason shown to the user."""


@dataclass(frozen=True)
class Page:
    """Text of one page (``number`` is 1-based, ``None`` for files without pages)."""

    text: str
    number: int | None = None


@dataclass(frozen=True)
class ParsedDocument:
    """A file's title and its pages of text."""

    title: str
    pages: tuple[Page, ...]


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


def decode_text(data: bytes) -> str:
    """Decode by BOM, then UTF-8, then the encoding charset-normalizer finds most likely."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as error:
                raise UnreadableDocument(f"invalid {encoding} text ({error.reason})") from None
    if b"\x00" in data[:8192]:
        raise UnreadableDocument("binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise UnreadableDocument("binary or undecodable text (no known encoding fits)")
    text = str(best)
    if best.encoding not in _LATIN_CODE_PAGES:
        return text
    # Detection guesses poorly between single-byte code pages on short texts; Western
    # European (cp1252) wins unless its reading has more stray symbols than the guess.
    try:
        western = data.decode("cp1252")
    except UnicodeDecodeError:
        return text
    return western if _letter_score(western) >= _letter_score(text) else text


# fmt: off
_LATIN_CODE_PAGES = frozenset({
    "cp1250", "cp1252", "cp1257", "cp775", "cp850", "cp437", "latin_1", "iso8859_2",
    "iso8859_4", "iso8859_10", "iso8859_13", "iso8859_15", "mac_latin2", "mac_iceland",
    "mac_roman",
})
# fmt: on


def _letter_score(text: str) -> int:
    """Non-ASCII letters count for a decoding, non-ASCII symbols against it."""
    return sum(1 if char.isalpha() else -2 for char in text if ord(char) > 127)


def markdown_title(text: str) -> str | None:
    """The first level-one Markdown heading, if any."""
    for line in text.splitlines()[:50]:
        if line.startswith("# "):
            return line[2:].strip() or None
    return None


class _VisibleText(HTMLParser):
    """Collects visible text and the title, dropping scripts, styles and the like."""

    HIDDEN = frozenset({"script", "style", "noscript", "template", "svg", "head", "iframe"})
    BLOCKS = frozenset(
        {
            "p",
            "div",
            "br",
            "li",
            "tr",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "section",
            "article",
            "header",
            "footer",
            "pre",
            "blockquote",
            "table",
            "ul",
            "ol",
            "dt",
            "dd",
        }
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title_parts: list[str] = []
        self._hidden_depth = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in self.HIDDEN:
            self._hidden_depth += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self.HIDDEN:
            self._hidden_depth = max(0, self._hidden_depth - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title_parts.append(data)
        elif self._hidden_depth == 0:
            self.parts.append(data)


def html_to_text(html: str) -> tuple[str | None, str]:
    """Return the page title and its visible text, one block a line."""
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    text = "\n".join(line for line in lines if line)
    title = " ".join("".join(parser.title_parts).split()) or None
    return title, text


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
