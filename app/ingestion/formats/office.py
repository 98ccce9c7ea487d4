"""Word and PowerPoint files (python-docx, python-pptx): headings, paragraphs, tables, notes.

Macro-enabled files (.docm, .pptm) are read like the others; their macros are never run.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Iterator
from typing import Any

from app.ingestion.formats.archive import has_macros, open_zip
from app.ingestion.formats.model import (
    OFFICE_EXTRA,
    Page,
    ParsedDocument,
    UnreadableDocument,
    require,
)
from app.ingestion.formats.sheets import table_markdown

DOCX_SUFFIXES = frozenset({".docx", ".docm"})
PPTX_SUFFIXES = frozenset({".pptx", ".pptm"})
MACROS_IGNORED = "macros ignored (never run)"

_WORD_MACRO_TYPE = b"application/vnd.ms-word.document.macroEnabled.main+xml"
_WORD_TYPE = b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"


def parse_docx(data: bytes, fallback_title: str) -> ParsedDocument:
    """A Word document as Markdown-ish text: ``#`` headings, paragraphs, Markdown tables."""
    archive = open_zip(data, "DOCX")
    notes = (MACROS_IGNORED,) if has_macros(archive) else ()
    docx = require("docx", "python-docx", OFFICE_EXTRA)
    try:
        document = docx.Document(io.BytesIO(_as_plain_word(archive, data)))
        blocks = list(_docx_blocks(document.iter_inner_content()))
        title = document.core_properties.title
    except Exception as error:  # python-docx and lxml raise many kinds on damaged files
        raise UnreadableDocument(f"broken DOCX ({type(error).__name__}: {error})") from None
    heading = next((b[2:] for b in blocks if b.startswith("# ")), None)
    return ParsedDocument(
        title or heading or fallback_title, (Page("\n\n".join(blocks)),), None, notes
    )


def _as_plain_word(archive: zipfile.ZipFile, data: bytes) -> bytes:
    """The bytes python-docx accepts: a .docm's content type said as a .docx's, macros left out."""
    types = archive.read("[Content_Types].xml")
    if _WORD_MACRO_TYPE not in types:
        return data
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as plain:
        for member in archive.infolist():
            if member.filename.endswith(".bin") and "vbaProject" in member.filename:
                continue
            content = archive.read(member)
            if member.filename == "[Content_Types].xml":
                content = content.replace(_WORD_MACRO_TYPE, _WORD_TYPE)
            plain.writestr(member, content)
    return buffer.getvalue()


def _docx_blocks(items: Iterable[Any]) -> Iterator[str]:
    for item in items:
        if hasattr(item, "rows"):
            table = table_markdown([[cell.text for cell in row.cells] for row in item.rows])
            if table is not None:
                yield table[1]
            continue
        text = item.text.strip()
        if not text:
            continue
        level = _heading_level(item.style.name if item.style is not None else "")
        yield f"{'#' * level} {text}" if level else text


def _heading_level(style: str) -> int:
    if style == "Title":
        return 1
    if style.startswith("Heading "):
        suffix = style.removeprefix("Heading ")
        return min(int(suffix), 6) if suffix.isdigit() else 0
    return 0


def parse_pptx(data: bytes, fallback_title: str) -> ParsedDocument:
    """One Page a slide: its title, text boxes, tables and speaker notes."""
    archive = open_zip(data, "PPTX")
    notes = (MACROS_IGNORED,) if has_macros(archive) else ()
    pptx = require("pptx", "python-pptx", OFFICE_EXTRA)
    try:
        presentation = pptx.Presentation(io.BytesIO(data))
        pages = []
        for number, slide in enumerate(presentation.slides, start=1):
            parts = list(_shape_texts(slide.shapes))
            if slide.has_notes_slide:
                spoken = slide.notes_slide.notes_text_frame.text.strip()
                if spoken:
                    parts.append(f"Notes: {spoken}")
            if parts:
                pages.append(Page("\n\n".join(parts), number, f"slide {number}"))
        title = presentation.core_properties.title
    except Exception as error:  # python-pptx and lxml raise many kinds on damaged files
        raise UnreadableDocument(f"broken PPTX ({type(error).__name__}: {error})") from None
    first = pages[0].text.split("\n", 1)[0] if pages else None
    return ParsedDocument(title or first or fallback_title, tuple(pages), None, notes)


def _shape_texts(shapes: Iterable[Any]) -> Iterator[str]:
    for shape in shapes:
        if getattr(shape, "shapes", None) is not None:  # a group
            yield from _shape_texts(shape.shapes)
        elif getattr(shape, "has_table", False) and shape.has_table:
            rows = [[cell.text for cell in row.cells] for row in shape.table.rows]
            table = table_markdown(rows)
            if table is not None:
                yield table[1]
        elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            text = shape.text_frame.text.strip()
            if text:
                yield text
