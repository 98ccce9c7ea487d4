"""Spreadsheets (.xlsx/.xlsm with openpyxl, .csv/.tsv) as Markdown tables, a Page a sheet."""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Iterable, Iterator, Sequence

from app.ingestion.formats.archive import has_macros, open_zip
from app.ingestion.formats.model import (
    OFFICE_EXTRA,
    Page,
    ParsedDocument,
    UnreadableDocument,
    require,
)
from app.ingestion.formats.text import decode_text

XLSX_SUFFIXES = frozenset({".xlsx", ".xlsm"})
DELIMITED_SUFFIXES = frozenset({".csv", ".tsv"})
MAX_ROWS = 100_000
"""Rows read from one sheet; the rest is left out with a warning."""


def markdown_row(cells: Iterable[object]) -> str:
    """One Markdown table row; pipes and line breaks inside cells are escaped."""
    texts = (_cell_text(cell) for cell in cells)
    return "| " + " | ".join(texts) + " |"


def _cell_text(cell: object) -> str:
    if cell is None:
        return ""
    text = str(cell)
    return " ".join(text.split()).replace("|", "\\|")


def table_markdown(rows: Sequence[Sequence[object]]) -> tuple[str, str] | None:
    """The rows as a Markdown table (the first row is the header): (header lines, table)."""
    rows = [_trimmed(row) for row in rows if any(_cell_text(cell) for cell in row)]
    if not rows:
        return None
    width = max(len(row) for row in rows)
    padded = [list(row) + [None] * (width - len(row)) for row in rows]
    header = markdown_row(padded[0]) + "\n" + "|" + " --- |" * width
    body = "\n".join(markdown_row(row) for row in padded[1:])
    return header, f"{header}\n{body}" if body else header


def _trimmed(row: Sequence[object]) -> Sequence[object]:
    """The row without its trailing empty cells (a sheet's used range is often much wider)."""
    end = len(row)
    while end and not _cell_text(row[end - 1]):
        end -= 1
    return row[:end]


def table_page(
    rows: Sequence[Sequence[object]], number: int | None = None, label: str | None = None
) -> Page | None:
    """A Page holding the rows as one Markdown table, its header marked for the splitter."""
    table = table_markdown(rows)
    if table is None:
        return None
    header, text = table
    return Page(text, number, label, table_header=header)


def capped_rows(
    rows: Iterator[Sequence[object]], where: str, notes: list[str]
) -> list[Sequence[object]]:
    """The first MAX_ROWS rows; a note in ``notes`` says so when there were more."""
    kept = []
    for count, row in enumerate(rows):
        if count >= MAX_ROWS:
            notes.append(f"{where}: read the first {MAX_ROWS} rows only (row cap)")
            break
        kept.append(row)
    return kept


def parse_delimited(data: bytes, suffix: str, fallback_title: str) -> ParsedDocument:
    """A CSV or TSV file as one Markdown table."""
    text = decode_text(data)
    delimiter = "\t" if suffix == ".tsv" else _delimiter(text)
    notes: list[str] = []
    try:
        rows = capped_rows(csv.reader(io.StringIO(text), delimiter=delimiter), "table", notes)
    except csv.Error as error:
        raise UnreadableDocument(f"broken CSV ({error})") from None
    page = table_page(rows)
    if page is None:
        raise UnreadableDocument("no cells in table")
    return ParsedDocument(fallback_title, (page,), None, tuple(notes))


def _delimiter(text: str) -> str:
    try:
        return csv.Sniffer().sniff(text[:4096], delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def parse_xlsx(data: bytes, fallback_title: str) -> ParsedDocument:
    """Each sheet of a workbook as a Markdown table (cached values, never formulas or macros)."""
    archive = open_zip(data, "XLSX")
    notes = ["macros ignored (never run)"] if has_macros(archive) else []
    openpyxl = require("openpyxl", "openpyxl", OFFICE_EXTRA)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        pages = []
        for number, sheet in enumerate(book.worksheets, start=1):
            rows = capped_rows(sheet.iter_rows(values_only=True), f"sheet {sheet.title}", notes)
            page = table_page(rows, number, f"sheet {sheet.title}")
            if page is not None:
                pages.append(page)
        title = book.properties.title or fallback_title
        book.close()
    except UnreadableDocument:
        raise
    except Exception as error:  # openpyxl raises many kinds on damaged workbooks
        raise UnreadableDocument(f"broken XLSX ({type(error).__name__}: {error})") from None
    return ParsedDocument(str(title), tuple(pages), None, tuple(notes))
