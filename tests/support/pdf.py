"""A minimal PDF writer with a real text layer, for tests and the sample document."""

from __future__ import annotations

import textwrap

PAGE_WIDTH, PAGE_HEIGHT = 612, 792  # US Letter, in points
FONT_SIZE, LEADING, MARGIN = 11, 14, 72
WRAP_AT = 90


def _escape(line: str) -> bytes:
    """The line as cp1252 bytes ('?' for what cp1252 lacks), escaped for a PDF string."""
    data = line.encode("cp1252", errors="replace")
    return data.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _wrap(text: str) -> list[str]:
    """The text's lines wrapped at WRAP_AT characters; blank lines are kept."""
    return [
        wrapped
        for paragraph in text.splitlines()
        for wrapped in (
            textwrap.wrap(paragraph, WRAP_AT, break_long_words=False, break_on_hyphens=False)
            or [""]
        )
    ]


def _page_stream(text: str) -> bytes:
    """The content stream of one page: one Tj per line, T* for the next line."""
    if not text.strip():
        return b""
    body = [
        b"BT",
        b"/F1 %d Tf" % FONT_SIZE,
        b"%d TL" % LEADING,
        b"%d %d Td" % (MARGIN, PAGE_HEIGHT - MARGIN),
    ]
    body.extend(b"(" + _escape(line) + b") Tj T*" for line in _wrap(text))
    body.append(b"ET")
    return b"\n".join(body)


def make_text_pdf(pages: list[str]) -> bytes:
    """A PDF 1.4 file with one Letter page per string (an empty string: a page without text).

    The output holds no timestamps or ids, so the same pages always give the same bytes.
    """
    page_ids = [3 + 2 * i for i in range(len(pages))]
    font_id = 3 + 2 * len(pages)
    kids = b" ".join(b"%d 0 R" % page_id for page_id in page_ids)
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % len(pages),
    ]
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
    # The comment after the header marks the file as binary for transfer tools.
    output = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: list[int] = []
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
