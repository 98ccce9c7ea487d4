"""OpenDocument text, presentations and spreadsheets (.odt .odp .ods), read from content.xml.

The standard library's XML parser is enough here (expat refuses entity expansion bombs).
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator

from app.ingestion.formats.archive import ZIP_ERRORS, open_zip
from app.ingestion.formats.model import Page, ParsedDocument, UnreadableDocument
from app.ingestion.formats.sheets import capped_rows, table_markdown, table_page

ODF_SUFFIXES = frozenset({".odt", ".odp", ".ods"})

_NS = {
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "draw": "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0",
    "presentation": "urn:oasis:names:tc:opendocument:xmlns:presentation:1.0",
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
}
MAX_REPEAT = 256
"""Repeated cells and rows (a sheet's unused tail, say) are not expanded past this."""


def _tag(prefix: str, name: str) -> str:
    return f"{{{_NS[prefix]}}}{name}"


def parse_opendocument(data: bytes, suffix: str, fallback_title: str) -> ParsedDocument:
    """Text with headings, one Page a slide (with notes), or one Markdown table a sheet."""
    archive = open_zip(data, "OpenDocument")
    try:
        root = ElementTree.fromstring(archive.read("content.xml"))
    except (*ZIP_ERRORS, ElementTree.ParseError) as error:
        raise UnreadableDocument(f"broken OpenDocument file ({error})") from None
    body = root.find("office:body", _NS)
    if body is None:
        raise UnreadableDocument("broken OpenDocument file (no body)")
    notes: list[str] = []
    if suffix == ".ods":
        pages = tuple(_sheets(body, notes))
    elif suffix == ".odp":
        pages = tuple(_slides(body))
    else:
        pages = (Page("\n\n".join(_blocks(body))),)
    first = pages[0].text if pages else ""
    heading = first[2:].split("\n", 1)[0] if first.startswith("# ") else None
    return ParsedDocument(heading or fallback_title, pages, None, tuple(notes))


def _inline_text(element: ElementTree.Element) -> str:
    """The text of a paragraph, with ``text:s``, ``text:tab`` and line breaks as spaces."""
    parts = [element.text or ""]
    for child in element:
        if child.tag == _tag("text", "s"):
            parts.append(" " * int(child.get(_tag("text", "c"), "1")))
        elif child.tag in (_tag("text", "tab"), _tag("text", "line-break")):
            parts.append(" ")
        elif child.tag != _tag("office", "annotation"):
            parts.append(_inline_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _blocks(element: ElementTree.Element) -> Iterator[str]:
    """Headings, paragraphs and tables in document order."""
    for child in element:
        if child.tag == _tag("text", "h"):
            level = int(child.get(_tag("text", "outline-level"), "1"))
            yield f"{'#' * min(level, 6)} {_inline_text(child).strip()}"
        elif child.tag == _tag("text", "p"):
            if text := _inline_text(child).strip():
                yield text
        elif child.tag == _tag("table", "table"):
            table = table_markdown(list(_rows(child)))
            if table is not None:
                yield table[1]
        else:
            yield from _blocks(child)


def _slides(body: ElementTree.Element) -> Iterator[Page]:
    for number, slide in enumerate(body.iter(_tag("draw", "page")), start=1):
        spoken = slide.find("presentation:notes", _NS)
        if spoken is not None:
            slide.remove(spoken)
        parts = list(_blocks(slide))
        if spoken is not None and (said := " ".join(_blocks(spoken)).strip()):
            parts.append(f"Notes: {said}")
        if parts:
            yield Page("\n\n".join(parts), number, f"slide {number}")


def _sheets(body: ElementTree.Element, notes: list[str]) -> Iterator[Page]:
    for number, sheet in enumerate(body.iter(_tag("table", "table")), start=1):
        name = sheet.get(_tag("table", "name"), str(number))
        rows = capped_rows(_rows(sheet), f"sheet {name}", notes)
        page = table_page(rows, number, f"sheet {name}")
        if page is not None:
            yield page


def _rows(table: ElementTree.Element) -> Iterator[list[str]]:
    for row in table.iter(_tag("table", "table-row")):
        cells: list[str] = []
        for cell in row:
            text = " ".join(_inline_text(p).strip() for p in cell.iter(_tag("text", "p")))
            repeat = int(cell.get(_tag("table", "number-columns-repeated"), "1"))
            cells.extend([text] * (repeat if text else min(repeat, MAX_REPEAT)))
        while cells and not cells[-1]:
            cells.pop()
        repeat = int(row.get(_tag("table", "number-rows-repeated"), "1"))
        for _ in range(min(repeat, MAX_REPEAT) if cells else 1):
            yield cells
