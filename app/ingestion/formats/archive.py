"""Zip containers (Office, OpenDocument, EPUB) opened safely, and what bytes really are.

A zip is refused by the uncompressed size its directory declares, before any member is
read (Python's zipfile never inflates a member past its declared size).
"""

from __future__ import annotations

import io
import zipfile
import zlib

from app.ingestion.formats.model import UnreadableDocument

MAX_UNCOMPRESSED_BYTES = 512 * 1024 * 1024
MAX_MEMBERS = 20_000
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
MACRO_PART = "vbaProject.bin"
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError, ValueError)
"""What reading a member of a damaged container raises."""


def open_zip(data: bytes, kind: str) -> zipfile.ZipFile:
    """The container of a ``kind`` file ("DOCX", "EPUB" ...), checked for bombs and damage."""
    if data.startswith(OLE_MAGIC):
        raise UnreadableDocument(
            f"password-protected or legacy binary Office file, not {_an(kind)} container"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise UnreadableDocument(
            f"not {_an(kind)} file ({sniff(data) or 'not a zip container'}: {error})"
        ) from None
    members = archive.infolist()
    declared = sum(member.file_size for member in members)
    if declared > MAX_UNCOMPRESSED_BYTES or len(members) > MAX_MEMBERS:
        raise UnreadableDocument(
            f"refused: {kind} declares {declared // (1024 * 1024)} MB uncompressed in "
            f"{len(members)} parts (zip bomb?)"
        )
    return archive


def _an(kind: str) -> str:
    """``a DOCX``, ``an XLSX``: the article as the name is said."""
    return f"an {kind}" if kind[0] in "AEFHILMNORSX" else f"a {kind}"


def has_macros(archive: zipfile.ZipFile) -> bool:
    """Whether a container carries a VBA project (it is never run, only noted)."""
    return any(name.rsplit("/", 1)[-1] == MACRO_PART for name in archive.namelist())


def sniff(data: bytes) -> str | None:
    """What the bytes are by their first bytes and parts, whatever the file is called."""
    head = data[:1024].lstrip()
    if head.startswith(b"%PDF-"):
        return "PDF"
    if data.startswith(OLE_MAGIC):
        return "OLE2 (encrypted or legacy Office)"
    for magic, kind in _IMAGE_MAGIC:
        if data.startswith(magic):
            return kind
    if data.startswith(b"PK\x03\x04"):
        return _zip_kind(data)
    return None


_IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"II*\x00", "TIFF image"),
    (b"MM\x00*", "TIFF image"),
)

_ZIP_MARKERS = (
    ("word/document.xml", "DOCX"),
    ("xl/workbook.xml", "XLSX"),
    ("ppt/presentation.xml", "PPTX"),
    ("META-INF/container.xml", "EPUB"),
    ("content.xml", "OpenDocument"),
)


def _zip_kind(data: bytes) -> str:
    try:
        names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return "damaged zip"
    return next((kind for marker, kind in _ZIP_MARKERS if marker in names), "zip archive")
