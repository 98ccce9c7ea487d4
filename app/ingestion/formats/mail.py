"""E-mail (.eml, .mbox): headers and body of each message, then its readable attachments."""

from __future__ import annotations

import email
import re
from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from typing import cast

from app.ingestion.formats.html import html_to_text
from app.ingestion.formats.model import Page, ParsedDocument, UnreadableDocument

EML_SUFFIXES = frozenset({".eml"})
MBOX_SUFFIXES = frozenset({".mbox"})
HEADERS = ("From", "To", "Cc", "Date", "Subject")
MAX_MESSAGES = 50_000
MAX_DEPTH = 3
"""Messages attached to messages are followed this deep, no deeper."""

AttachmentReader = Callable[[bytes, str, str], ParsedDocument]
"""Reads an attachment's bytes given its suffix and name (the package's parse_document)."""

_FROM_LINE = re.compile(rb"^From .*\r?\n", re.MULTILINE)


def parse_eml(data: bytes, fallback_title: str, read: AttachmentReader) -> ParsedDocument:
    """One message: a Page of headers and body, a Page per readable attachment."""
    notes: list[str] = []
    pages = _Reader(read, notes).message_pages(_message(data), None)
    subject = pages[0].label if pages else None
    return ParsedDocument(subject or fallback_title, tuple(pages), None, tuple(notes))


def parse_mbox(data: bytes, fallback_title: str, read: AttachmentReader) -> ParsedDocument:
    """A mail archive: the pages of each message, numbered by message."""
    notes: list[str] = []
    reader = _Reader(read, notes)
    pages: list[Page] = []
    raw_messages = [part for part in _FROM_LINE.split(data) if part.strip()]
    if len(raw_messages) > MAX_MESSAGES:
        notes.append(f"read the first {MAX_MESSAGES} of {len(raw_messages)} messages")
    for number, raw in enumerate(raw_messages[:MAX_MESSAGES], start=1):
        unquoted = re.sub(rb"(?m)^>(>*From )", rb"\1", raw)
        pages.extend(reader.message_pages(_message(unquoted), number))
    if not pages:
        raise UnreadableDocument("no messages in mailbox")
    return ParsedDocument(fallback_title, tuple(pages), None, tuple(notes))


def _message(data: bytes) -> EmailMessage:
    return email.message_from_bytes(data, policy=policy.default)


def _body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    return html_to_text(content)[1] if part.get_content_subtype() == "html" else content.strip()


class _Reader:
    """Turns messages into pages, following attachments with ``read``."""

    def __init__(self, read: AttachmentReader, notes: list[str]) -> None:
        self.read = read
        self.notes = notes

    def message_pages(
        self, message: EmailMessage, number: int | None, depth: int = 0
    ) -> list[Page]:
        """A Page of headers and body, then the pages of its readable attachments."""
        headers = [f"{name}: {message[name]}" for name in HEADERS if message[name]]
        subject = str(message["Subject"] or "").strip() or None
        pages = [Page("\n".join([*headers, "", _body_text(message)]).strip(), number, subject)]
        if depth < MAX_DEPTH:
            for attachment in message.iter_attachments():
                pages.extend(self.attachment_pages(attachment, number, depth))
        return pages

    def attachment_pages(
        self, attachment: EmailMessage, number: int | None, depth: int
    ) -> list[Page]:
        """The pages of an attachment ragkit reads; other types are left out quietly."""
        if attachment.get_content_type() == "message/rfc822":
            inner = attachment.get_payload()
            if isinstance(inner, list) and inner:
                return self.message_pages(cast(EmailMessage, inner[0]), number, depth + 1)
        name = attachment.get_filename() or ""
        suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
        payload = attachment.get_payload(decode=True)
        if suffix in MBOX_SUFFIXES or not isinstance(payload, bytes) or not payload.strip():
            return []
        try:
            parsed = self.read(payload, suffix, name)
        except UnreadableDocument as error:
            if not str(error).startswith("unsupported file type"):
                self.notes.append(f"attachment {name} skipped: {error}")
            return []
        self.notes.extend(f"attachment {name}: {note}" for note in parsed.warnings)
        label = f"attachment {name}"
        return [Page(page.text, number, label, page.table_header) for page in parsed.pages]
