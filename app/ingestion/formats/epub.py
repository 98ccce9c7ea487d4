"""EPUB e-books: one Page a chapter, in reading (spine) order, read from the zip itself."""

from __future__ import annotations

import posixpath
import xml.etree.ElementTree as ElementTree

from app.ingestion.formats.archive import ZIP_ERRORS, open_zip
from app.ingestion.formats.html import html_to_text
from app.ingestion.formats.model import Page, ParsedDocument, UnreadableDocument
from app.ingestion.formats.text import decode_text

EPUB_SUFFIXES = frozenset({".epub"})

_CONTAINER = "{urn:oasis:names:tc:opendocument:xmlns:container}"
_OPF = "{http://www.idpf.org/2007/opf}"
_DC = "{http://purl.org/dc/elements/1.1/}"


def parse_epub(data: bytes, fallback_title: str) -> ParsedDocument:
    """Each chapter of the spine as a Page numbered in reading order."""
    archive = open_zip(data, "EPUB")
    try:
        container = ElementTree.fromstring(archive.read("META-INF/container.xml"))
        rootfile = container.find(f".//{_CONTAINER}rootfile")
        if rootfile is None or not rootfile.get("full-path"):
            raise UnreadableDocument("broken EPUB (container names no package file)")
        package_path = str(rootfile.get("full-path"))
        package = ElementTree.fromstring(archive.read(package_path))
        hrefs = {
            item.get("id"): item.get("href", "")
            for item in package.iter(f"{_OPF}item")
            if "html" in item.get("media-type", "")
            and "nav" not in item.get("properties", "").split()
        }
        folder = posixpath.dirname(package_path)
        pages: list[Page] = []
        for itemref in package.iter(f"{_OPF}itemref"):
            href = hrefs.get(itemref.get("idref"))
            if not href:
                continue
            name = posixpath.normpath(posixpath.join(folder, href.split("#", 1)[0]))
            chapter_title, text = html_to_text(decode_text(archive.read(name)))
            if text.strip():
                number = len(pages) + 1
                pages.append(Page(text, number, chapter_title or f"chapter {number}"))
        title_element = package.find(f".//{_DC}title")
    except UnreadableDocument:
        raise
    except (*ZIP_ERRORS, ElementTree.ParseError) as error:
        raise UnreadableDocument(f"broken EPUB ({type(error).__name__}: {error})") from None
    title = (title_element.text or "").strip() if title_element is not None else ""
    return ParsedDocument(title or fallback_title, tuple(pages))
