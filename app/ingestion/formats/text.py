"""Plain text and Markdown: decoding with fallbacks (BOM, UTF-8, detected code pages)."""

from __future__ import annotations

import codecs

from app.ingestion.formats.model import OFFICE_EXTRA, UnreadableDocument, require

TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".rst", ".text"})

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


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


RTF_SUFFIXES = frozenset({".rtf"})


def rtf_to_text(data: bytes) -> str:
    """The text of an RTF file (striprtf); control words and groups are dropped."""
    striprtf = require("striprtf.striprtf", "striprtf", OFFICE_EXTRA)
    source = data.decode("cp1252", "replace")
    if not source.lstrip().startswith("{\\rtf"):
        raise UnreadableDocument("not an RTF file (no {\\rtf header)")
    try:
        return str(striprtf.rtf_to_text(source, errors="replace")).strip()
    except (ValueError, IndexError, RecursionError) as error:
        raise UnreadableDocument(f"broken RTF ({type(error).__name__}: {error})") from None
