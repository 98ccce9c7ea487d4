"""Every format, parsed from a real file made by the library that writes it."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from langchain_core.documents import Document

from app.ingestion.formats import parse_document
from app.ingestion.formats.model import UnreadableDocument
from app.ingestion.loading import load_paths
from app.ingestion.splitting import split_documents
from tests.support import documents as made
from tests.support.documents import text_of


def _parse(path: Path) -> tuple[str, list[tuple[int | None, str | None, str]]]:
    parsed = parse_document(path.read_bytes(), path.suffix, path.stem)
    return parsed.title, [(page.number, page.label, page.text) for page in parsed.pages]


def test_docx_keeps_headings_paragraphs_and_tables(tmp_path: Path) -> None:
    title, pages = _parse(made.make_docx(tmp_path / "report.docx"))
    assert title == "Harbour report"
    (number, _, text), *_ = pages
    assert number is None
    assert "## Schedule" in text
    assert text_of("report.docx") in text
    assert "| Nautilus | Pier 19 |" in text


def test_pptx_gives_one_page_a_slide_with_its_notes(tmp_path: Path) -> None:
    _, pages = _parse(made.make_pptx(tmp_path / "deck.pptx"))
    assert [(number, label) for number, label, _ in pages] == [(1, "slide 1"), (2, "slide 2")]
    assert text_of("deck.pptx") in pages[1][2]
    assert f"Notes: {text_of('deck-notes')}" in pages[1][2]


def test_xlsx_gives_a_markdown_table_a_sheet(tmp_path: Path) -> None:
    _, pages = _parse(made.make_xlsx(tmp_path / "budget.xlsx"))
    assert [label for _, label, _ in pages] == ["sheet Summary", "sheet Spices"]
    assert pages[1][2].startswith("| Spice | Origin | Price per gram |\n| --- | --- | --- |\n")
    assert "| Saffron | Kashmir | 11.5 |" in pages[1][2]


def test_long_sheet_repeats_its_header_in_every_chunk(tmp_path: Path) -> None:
    result = load_paths([made.make_xlsx(tmp_path / "long.xlsx", rows=400)], 10**7)
    spices = [doc for doc in result.files[0].documents if doc.metadata["page"] == 2]
    chunks = split_documents(spices, chunk_size=300, chunk_overlap=30)
    assert len(chunks) > 10
    for chunk in chunks:
        assert chunk.page_content.startswith("| Spice | Origin | Price per gram |\n| --- |")
        assert chunk.metadata["page_label"] == "sheet Spices"
        assert "table_header" not in chunk.metadata
        assert len(chunk.page_content) <= 300
    rows = [line for chunk in chunks for line in chunk.page_content.splitlines()[2:]]
    assert len(rows) == 401  # every row once, none cut


def test_csv_and_tsv_become_markdown_tables(tmp_path: Path) -> None:
    _, pages = _parse(made.make_csv(tmp_path / "people.csv"))
    assert "| Bartholomew | Night porter | 4471 |" in pages[0][2]
    tsv = tmp_path / "people.tsv"
    tsv.write_text("Name\tRole\nAda\tGardener, head\n", encoding="utf-8")
    _, pages = _parse(tsv)
    assert pages[0][2] == "| Name | Role |\n| --- | --- |\n| Ada | Gardener, head |"


def test_opendocument_text_slides_and_sheets(tmp_path: Path) -> None:
    title, pages = _parse(made.make_odt(tmp_path / "letter.odt"))
    assert title == "Coastal log"
    assert text_of("letter.odt") in pages[0][2]
    _, slides = _parse(made.make_odp(tmp_path / "slides.odp"))
    assert [label for _, label, _ in slides] == ["slide 1", "slide 2"]
    assert text_of("slides.odp") in slides[1][2]
    assert "Notes: Mention the obsidian auction house." in slides[1][2]
    _, sheets = _parse(made.make_ods(tmp_path / "stock.ods"))
    assert sheets[0][:2] == (1, "sheet Pantry")
    assert "| Marmalade | Top shelf left |" in sheets[0][2]


def test_epub_gives_one_page_a_chapter_in_reading_order(tmp_path: Path) -> None:
    title, pages = _parse(made.make_epub(tmp_path / "novel.epub"))
    assert title == "The Clockmaker"
    assert [(number, label) for number, label, _ in pages] == [(1, "Chapter 1"), (2, "Chapter 2")]
    assert text_of("novel.epub") in pages[1][2]


def test_eml_reads_headers_body_and_supported_attachments(tmp_path: Path) -> None:
    title, pages = _parse(made.make_eml(tmp_path / "message.eml", tmp_path))
    assert title == "Greenhouse"
    assert "Subject: Greenhouse" in pages[0][2]
    assert "From: Ada Gardener <ada@example.org>" in pages[0][2]
    assert text_of("message.eml") in pages[0][2]
    assert pages[1][1] == "attachment cellar.docx"
    assert text_of("attachment") in pages[1][2]


def test_mbox_numbers_pages_by_message(tmp_path: Path) -> None:
    _, pages = _parse(made.make_mbox(tmp_path / "archive.mbox"))
    assert [(number, label) for number, label, _ in pages] == [
        (1, "Town fair"),
        (2, "Bicycle race"),
    ]
    assert text_of("archive.mbox") in pages[1][2]


def test_rtf_notebook_code_and_config(tmp_path: Path) -> None:
    assert _parse(made.make_rtf(tmp_path / "memo.rtf"))[1][0][2] == text_of("memo.rtf")
    title, pages = _parse(made.make_ipynb(tmp_path / "analysis.ipynb"))
    assert title == "Bird counts"
    assert "```python\nprint('pelican flock')\n```" in pages[0][2]
    assert text_of("analysis.ipynb") in pages[0][2]
    assert "zeppelin_hangar_capacity: 3" in _parse(made.make_yaml(tmp_path / "c.yaml"))[1][0][2]
    code = made.make_python(tmp_path / "geometry.py")
    parsed = parse_document(code.read_bytes(), ".py", "geometry")
    assert parsed.language == "python"


def test_code_is_split_along_functions_and_classes(tmp_path: Path) -> None:
    source = (
        "\n\n".join(
            f"def function_{n}(value):\n    total = value * {n}\n    return total + {n}\n"
            for n in range(6)
        )
        + "\n\nclass Shape:\n    def area(self):\n        return 0\n"
    )
    document = Document(source, metadata={"source": "s.py", "language": "python"})
    chunks = split_documents([document], chunk_size=120, chunk_overlap=0)
    assert all(chunk.page_content.startswith(("def ", "class ")) for chunk in chunks), [
        c.page_content for c in chunks
    ]


def test_zip_bomb_is_refused_by_declared_size_before_reading(tmp_path: Path) -> None:
    bomb = made.make_zip_bomb(tmp_path / "bomb.docx").read_bytes()
    assert len(bomb) < 1_000_000
    with pytest.raises(UnreadableDocument, match="refused: DOCX declares 600 MB uncompressed"):
        parse_document(bomb, ".docx", "bomb")


@pytest.mark.parametrize("suffix", [".docx", ".xlsx", ".epub", ".pptx", ".odt"])
def test_truncated_containers_are_unreadable_with_a_reason(tmp_path: Path, suffix: str) -> None:
    makers = {
        ".docx": made.make_docx,
        ".xlsx": made.make_xlsx,
        ".epub": made.make_epub,
        ".pptx": made.make_pptx,
        ".odt": made.make_odt,
    }
    data = makers[suffix](tmp_path / f"file{suffix}").read_bytes()
    with pytest.raises(UnreadableDocument, match=r"^(not an?|broken) "):
        parse_document(data[: len(data) // 2], suffix, "half")


def test_password_protected_office_file_is_named_as_such(tmp_path: Path) -> None:
    locked = made.encrypted_docx(made.make_docx(tmp_path / "plain.docx"))
    with pytest.raises(UnreadableDocument, match="password-protected"):
        parse_document(locked, ".docx", "locked")


def test_a_damaged_pdf_is_read_by_the_second_library_with_a_warning() -> None:
    parsed = parse_document(made.damaged_pdf("The atlas shows the glacier route."), ".pdf", "x")
    assert parsed.pages[0].text == "The atlas shows the glacier route."
    assert parsed.warnings[0].startswith("damaged PDF read with pypdf (pypdfium2: broken PDF")
    tree = made.damaged_pdf("The atlas shows the glacier route.", part="page tree")
    assert parse_document(tree, ".pdf", "x").pages[0].text == "The atlas shows the glacier route."


def test_macro_enabled_word_file_is_read_and_its_macros_noted(tmp_path: Path) -> None:
    path = made.make_docx(tmp_path / "macro.docm", macro=True)
    parsed = parse_document(path.read_bytes(), ".docm", "macro")
    assert text_of("report.docx") in parsed.pages[0].text
    assert parsed.warnings == ("macros ignored (never run)",)


def test_a_file_whose_extension_lies_is_read_as_what_it_is(tmp_path: Path) -> None:
    workbook = made.make_xlsx(tmp_path / "really-a-workbook.xlsx").read_bytes()
    parsed = parse_document(workbook, ".docx", "liar")
    assert "| Saffron | Kashmir | 11.5 |" in parsed.pages[1].text
    assert parsed.warnings[0] == "content is XLSX, not what its .docx extension says"
    with pytest.raises(UnreadableDocument, match="not a DOCX file"):
        parse_document(b"just some words, not a zip at all", ".docx", "text")
    note = b"%PDF-1.7 is the header every PDF file starts with."
    assert parse_document(note, ".txt", "note").pages[0].text == note.decode()


def test_row_cap_reads_the_first_rows_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.ingestion.formats import sheets

    monkeypatch.setattr(sheets, "MAX_ROWS", 50)
    path = made.make_xlsx(tmp_path / "big.xlsx", rows=200)
    parsed = parse_document(path.read_bytes(), ".xlsx", "big")
    assert parsed.warnings == ("sheet Spices: read the first 50 rows only (row cap)",)
    assert parsed.pages[1].text.count("\n") == 50


def test_pdf_tables_become_markdown_and_running_lines_are_dropped(tmp_path: Path) -> None:
    parsed = parse_document(
        made.make_table_pdf(tmp_path / "tea.pdf").read_bytes(), ".pdf", "t", "off"
    )
    assert [page.number for page in parsed.pages] == [1, 2, 3]
    second = parsed.pages[1].text
    assert "| Estate | Harvest tonnes | Rainfall mm |\n| --- | --- | --- |" in second
    assert "| Assam | 958 | 2800 |" in second
    assert second.index("Harvests by estate") < second.index("| Estate |")
    for page, prose in zip(parsed.pages, made.PROSE, strict=True):
        assert "Tea Board of the Hills" not in page.text
        assert "of 3" not in page.text
        assert page.text.startswith(prose)


def test_a_two_column_pdf_page_is_read_left_column_then_right(tmp_path: Path) -> None:
    data = made.make_two_column_pdf(tmp_path / "two.pdf").read_bytes()
    text = " ".join(parse_document(data, ".pdf", "t", "off").pages[0].text.split())
    assert text.startswith("Mountain notes: the ridge and the valley, a field report")
    assert made.LEFT_COLUMN in text and made.RIGHT_COLUMN in text
    assert text.index(made.LEFT_COLUMN) < text.index(made.RIGHT_COLUMN)
    assert " ".join([made.LEFT_COLUMN] * 3) in text


def test_one_column_pages_and_tables_are_not_read_as_columns(tmp_path: Path) -> None:
    from app.ingestion.formats.pdf import two_columns

    prose = [(72.0, 700.0 - 14 * n, 540.0, 710.0 - 14 * n) for n in range(30)]
    assert two_columns(prose, 612) is None
    short_list = [(72.0, 700.0 - 14 * n, 200.0, 710.0 - 14 * n) for n in range(30)]
    assert two_columns(short_list, 612) is None
    cells = [(x, 700.0 - 14 * n, x + 40, 710.0 - 14 * n) for n in range(10) for x in (72, 400)]
    assert two_columns(cells, 612) is None
    columns = [(x, 700.0 - 14 * n, x + 230, 710.0 - 14 * n) for n in range(10) for x in (50, 330)]
    assert two_columns(columns, 612) == (305.0, 574.0, 710.0)
    across = [*columns, (50.0, 640.0, 560.0, 650.0)]
    assert two_columns(across, 612) is None


def test_sync_treats_new_formats_like_any_file(tmp_path: Path) -> None:
    from langchain_core.embeddings import DeterministicFakeEmbedding

    from app.config.settings import resolve_settings
    from app.ingestion.run import ingest_paths
    from retrievers.snapshot_store import SnapshotStore

    folder = tmp_path / "docs"
    made.make_all(folder)
    (folder / "broken.xlsx").write_bytes(b"PK\x03\x04 truncated")
    settings = resolve_settings({"index_dir": tmp_path / "index", "ocr": "off"}, {}, {})
    store = SnapshotStore(settings.index_dir)
    embeddings = DeterministicFakeEmbedding(size=16)
    first = ingest_paths([folder], store, settings, embeddings)
    assert (first.files_added, len(first.skipped)) == (14, 1)
    assert first.skipped[0].reason.startswith("not an XLSX file")

    again = ingest_paths([folder], store, settings, embeddings)
    assert (again.files_unchanged, again.chunks_embedded, len(again.skipped)) == (14, 0, 1)

    (folder / "report.docx").rename(folder / "renamed.docx")
    (folder / "deck.pptx").unlink()
    made.make_xlsx(folder / "budget.xlsx", rows=10)
    synced = ingest_paths([folder], store, settings, embeddings)
    assert (synced.files_renamed, synced.files_removed, synced.files_updated) == (1, 1, 1)
    assert synced.total_files == 13
    sources = {record.metadata["source"] for record in store.load().records}
    assert "renamed.docx" in sources and "report.docx" not in sources
    assert "deck.pptx" not in sources


def test_mail_attachments_are_followed_without_ocr(tmp_path: Path) -> None:
    from email.message import EmailMessage

    message = EmailMessage()
    message["Subject"] = "Rota"
    message.set_content("The rota is attached.")
    message.add_attachment(
        b"Day,Who\nMonday,Ada\n", maintype="text", subtype="csv", filename="rota.csv"
    )
    logo = io.BytesIO()
    made.text_image(["LOGO"], 200, 80).save(logo, "PNG")
    message.add_attachment(logo.getvalue(), maintype="image", subtype="png", filename="logo.png")
    parsed = parse_document(message.as_bytes(), ".eml", "rota")
    assert [page.label for page in parsed.pages] == ["Rota", "attachment rota.csv"]
    assert "| Monday | Ada |" in parsed.pages[1].text
    assert parsed.warnings == ()


def test_wide_empty_columns_of_a_sheet_are_left_out(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Item", "Count"])
    sheet.append(["Lantern", 3])
    sheet.cell(row=1, column=5000).value = None
    sheet.cell(row=40, column=3000).value = " "
    book.save(tmp_path / "wide.xlsx")
    parsed = parse_document((tmp_path / "wide.xlsx").read_bytes(), ".xlsx", "wide")
    assert parsed.pages[0].text == "| Item | Count |\n| --- | --- |\n| Lantern | 3 |"
