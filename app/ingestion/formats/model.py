"""What a format parser returns: a title and pages of text, or the reason it cannot."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType


class UnreadableDocument(Exception):
    """The bytes cannot be turned into text; the message is the reason shown to the user."""


@dataclass(frozen=True)
class Page:
    """Text of one page, slide, sheet or chapter (``number`` is 1-based, ``None`` if none).

    ``label`` names it in citations ("slide 3", "sheet Budget"); ``table_header`` is set
    when the whole text is one Markdown table whose header lines start it, so the splitter
    can repeat them in every chunk.
    """

    text: str
    number: int | None = None
    label: str | None = None
    table_header: str | None = None


@dataclass(frozen=True)
class ParsedDocument:
    """A file's title and pages of text, plus what to say about how it was read.

    ``language`` names a programming language for the code-aware splitter; ``warnings``
    are one-line notes about a file that was read only in part.
    """

    title: str
    pages: tuple[Page, ...]
    language: str | None = None
    warnings: tuple[str, ...] = ()


OFFICE_EXTRA = "ragkit[office]"
OCR_EXTRA = "ragkit[ocr]"


def require(module: str, package: str, extra: str) -> ModuleType:
    """Import ``module``, or say which package the file needs and how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UnreadableDocument(
            f'needs {package}, which is not installed (run `pip install "{extra}"`)'
        ) from None
