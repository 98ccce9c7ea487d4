"""A minimal PDF writer with a real text layer, for tests and the sample document."""

from __future__ import annotations

import textwrap

PAGE_WIDTH, PAGE_HEIGHT = 612, 792
FONT_SIZE, LEADING, MARGIN = 11, 14, 72
WRAP_AT = 90


def _escape(line: str) -> bytes:
    data = line.encode("cp1252", errors="replace")
    return data.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _page_stream(text: str) -> bytes:
    lines = [
        wrapped
        for paragraph in text.splitlines()
        for wrapped in (textwrap.wrap(paragraph, WRAP_AT) or [""])
    ]
    if not text.strip():
        return b""
    body = [
        b"BT",
        b"/F1 %d Tf" % FONT_SIZE,
        b"%d TL" % LEADING,
        b"%d %d Td" % (MARGIN, PAGE_HEIGHT - MARGIN),
    ]
    for line in lines:
        body.append(b"(" + _escape(line) + b") Tj T*")
    body.append(b"ET")
    return b"\n".join(body)


def make_text_pdf(pages: list[str]) -> bytes:
    """A PDF 1.4 file with one Letter page per string (an empty string: a page without text)."""
    objects: list[bytes] = []
    page_ids = [3 + 2 * i for i in range(len(pages))]
    font_id = 3 + 2 * len(pages)
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = b" ".join(b"%d 0 R" % pid for pid in page_ids)
    objects.append(b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % len(pages))
    for page_id, text in zip(page_ids, pages, strict=True):
        stream = _page_stream(text)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] " % (PAGE_WIDTH, PAGE_HEIGHT)
            + b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>"
            % (font_id, page_id + 1)
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    )
    output = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(output))
        output += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(output)
    output += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        output += b"%010d 00000 n \n" % offset
    output += b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1)
    output += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(output)
