"""What a format parser returns: a title and pages of text, or the reason it cannot."""

from __future__ import annotations

from dataclasses import dataclass


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
