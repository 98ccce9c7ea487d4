"""Real files of every supported format, made by the libraries that write them."""

from __future__ import annotations

import io
import json
import zipfile
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image

# One sentence a format, with words found nowhere else, and where it must be cited.
SENTENCES: dict[str, tuple[str, int | None]] = {
    "report.docx": ("The turquoise submarine docks at pier nineteen every Thursday.", None),
    "deck.pptx": ("Quarterly walrus migration doubled across the northern fjords.", 2),
    "deck-notes": ("Remind the audience that the walrus census used infrared drones.", 2),
    "budget.xlsx": ("Saffron", 2),
    "people.csv": ("Bartholomew", None),
    "letter.odt": ("The lighthouse keeper catalogued forty amber jellyfish at dawn.", None),
    "slides.odp": ("Volcanic glass sculptures fetched record prices in Reykjavik.", 2),
    "stock.ods": ("Marmalade", 1),
    "novel.epub": ("The clockmaker hid a brass hummingbird inside the cathedral organ.", 2),
    "message.eml": ("The greenhouse orchids must be watered with rainwater only.", None),
    "attachment": ("The cellar dehumidifier setpoint is forty five percent.", None),
    "archive.mbox": ("The tandem bicycle race starts beside the windmill at noon.", 2),
    "memo.rtf": ("The penguin enclosure heating failed during the blizzard.", None),
    "analysis.ipynb": ("The pelican flock prefers the estuary at low tide.", None),
    "geometry.py": ("def hexagon_perimeter", None),
    "config.yaml": ("zeppelin_hangar_capacity", None),
}


def text_of(key: str) -> str:
    return SENTENCES[key][0]


def make_docx(path: Path, macro: bool = False) -> Path:
    import docx

    document = docx.Document()
    document.core_properties.title = "Harbour report"
    document.add_heading("Harbour report", 1)
    document.add_heading("Schedule", 2)
    document.add_paragraph(text_of("report.docx"))
    table = document.add_table(rows=2, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "Vessel", "Berth"
    table.rows[1].cells[0].text, table.rows[1].cells[1].text = "Nautilus", "Pier 19"
    document.save(str(path))
    if macro:
        _add_macro_part(path, b"application/vnd.ms-word.document.macroEnabled.main+xml")
    return path


def _add_macro_part(path: Path, main_type: bytes) -> None:
    """Turn an OOXML file into its macro-enabled form: a vbaProject.bin and the content type."""
    source = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            data = source.read(member)
            if member.filename == "[Content_Types].xml":
                data = data.replace(
                    b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
                    main_type,
                ).replace(
                    b"</Types>",
                    b'<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'
                    b"</Types>",
                )
            target.writestr(member, data)
        target.writestr("word/vbaProject.bin", b'Attribute VB_Name = "AutoOpen"\nShell "calc"')
    path.write_bytes(buffer.getvalue())


def make_pptx(path: Path) -> Path:
    import pptx

    presentation = pptx.Presentation()
    layout = presentation.slide_layouts[1]
    first = presentation.slides.add_slide(layout)
    first.shapes.title.text = "Wildlife review"
    first.placeholders[1].text = "An overview of the year."
    second = presentation.slides.add_slide(layout)
    second.shapes.title.text = "Migration"
    second.placeholders[1].text = text_of("deck.pptx")
    second.notes_slide.notes_text_frame.text = text_of("deck-notes")
    presentation.save(str(path))
    return path


def make_xlsx(path: Path, rows: int = 3) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    summary = book.active
    summary.title = "Summary"
    summary.append(["Note"])
    summary.append(["Totals are on the Spices sheet."])
    spices = book.create_sheet("Spices")
    spices.append(["Spice", "Origin", "Price per gram"])
    spices.append(["Saffron", "Kashmir", 11.5])
    for number in range(rows):
        spices.append([f"Blend {number}", "Mixed", number])
    book.save(str(path))
    return path


def make_csv(path: Path) -> Path:
    path.write_text(
        "Name,Role,Extension\nBartholomew,Night porter,4471\nClementine,Archivist,4472\n",
        encoding="utf-8",
    )
    return path


def make_odt(path: Path) -> Path:
    from odf.opendocument import OpenDocumentText
    from odf.text import H, P

    document = OpenDocumentText()
    document.text.addElement(H(outlinelevel=1, text="Coastal log"))
    document.text.addElement(P(text=text_of("letter.odt")))
    document.save(str(path))
    return path


def make_odp(path: Path) -> Path:
    from odf.draw import Frame, Page, TextBox
    from odf.opendocument import OpenDocumentPresentation
    from odf.presentation import Notes
    from odf.style import MasterPage, PageLayout
    from odf.text import P

    document = OpenDocumentPresentation()
    layout = PageLayout(name="layout")
    document.automaticstyles.addElement(layout)
    master = MasterPage(name="master", pagelayoutname=layout)
    document.masterstyles.addElement(master)
    for number, words in enumerate(["Art market summary", text_of("slides.odp")], start=1):
        page = Page(name=f"page{number}", masterpagename=master)
        frame = Frame(width="20cm", height="5cm", x="1cm", y="1cm")
        box = TextBox()
        box.addElement(P(text=words))
        frame.addElement(box)
        page.addElement(frame)
        if number == 2:
            notes = Notes()
            notes_frame = Frame(width="20cm", height="5cm", x="1cm", y="1cm")
            notes_box = TextBox()
            notes_box.addElement(P(text="Mention the obsidian auction house."))
            notes_frame.addElement(notes_box)
            notes.addElement(notes_frame)
            page.addElement(notes)
        document.presentation.addElement(page)
    document.save(str(path))
    return path


def make_ods(path: Path) -> Path:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    document = OpenDocumentSpreadsheet()
    table = Table(name="Pantry")
    for cells in (["Preserve", "Shelf"], ["Marmalade", "Top shelf left"], ["Chutney", "Bottom"]):
        row = TableRow()
        for value in cells:
            cell = TableCell(valuetype="string")
            cell.addElement(P(text=value))
            row.addElement(cell)
        table.addElement(row)
    document.spreadsheet.addElement(table)
    document.save(str(path))
    return path


def make_epub(path: Path) -> Path:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("ragkit-test-book")
    book.set_title("The Clockmaker")
    book.set_language("en")
    chapters = []
    for number, words in enumerate(
        ["The town woke to fog and bells.", text_of("novel.epub")], start=1
    ):
        chapter = epub.EpubHtml(title=f"Chapter {number}", file_name=f"ch{number}.xhtml")
        chapter.content = f"<h1>Chapter {number}</h1><p>{words}</p>"
        book.add_item(chapter)
        chapters.append(chapter)
    book.toc = chapters
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *chapters]
    epub.write_epub(str(path), book)
    return path


def make_message(subject: str, body: str, attachment: tuple[str, bytes] | None = None) -> bytes:
    message = EmailMessage()
    message["From"] = "Ada Gardener <ada@example.org>"
    message["To"] = "house@example.org"
    message["Subject"] = subject
    message["Date"] = "Mon, 02 Mar 2026 09:00:00 +0000"
    message.set_content(body)
    if attachment is not None:
        name, data = attachment
        message.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return message.as_bytes()


def make_eml(path: Path, folder: Path) -> Path:
    attached = make_docx_bytes(folder, text_of("attachment"))
    path.write_bytes(make_message("Greenhouse", text_of("message.eml"), ("cellar.docx", attached)))
    return path


def make_docx_bytes(folder: Path, sentence: str) -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph(sentence)
    target = folder / "attached.docx.tmp"
    document.save(str(target))
    data = target.read_bytes()
    target.unlink()
    return data


def make_mbox(path: Path) -> Path:
    import mailbox

    box = mailbox.mbox(str(path))
    box.add(make_message("Town fair", "Bring lemonade for the stalls."))
    box.add(make_message("Bicycle race", text_of("archive.mbox")))
    box.flush()
    box.close()
    return path


def make_rtf(path: Path) -> Path:
    path.write_text(
        "{\\rtf1\\ansi\\deff0{\\fonttbl{\\f0 Times New Roman;}}\\f0\\fs24 "
        + text_of("memo.rtf")
        + "\\par}",
        encoding="ascii",
    )
    return path


def make_ipynb(path: Path) -> Path:
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# Bird counts"),
        nbformat.v4.new_code_cell(
            "print('pelican flock')",
            outputs=[nbformat.v4.new_output("stream", text=text_of("analysis.ipynb"))],
        ),
    ]
    notebook.metadata["kernelspec"] = {"name": "python3", "language": "python"}
    path.write_text(nbformat.writes(notebook), encoding="utf-8")
    return path


def make_python(path: Path) -> Path:
    path.write_text(
        '"""Shapes."""\n\n\ndef hexagon_perimeter(side: float) -> float:\n'
        '    """Six equal sides of a regular hexagon."""\n    return 6 * side\n\n\n'
        "class Triangle:\n    def area(self, base: float, height: float) -> float:\n"
        "        return base * height / 2\n",
        encoding="utf-8",
    )
    return path


def make_yaml(path: Path) -> Path:
    path.write_text("airfield:\n  zeppelin_hangar_capacity: 3\n  runway: grass\n", encoding="utf-8")
    return path


def make_all(folder: Path) -> dict[str, Path]:
    """Every format in ``folder``; keys are the file names of SENTENCES."""
    folder.mkdir(parents=True, exist_ok=True)
    makers = {
        "report.docx": make_docx,
        "deck.pptx": make_pptx,
        "budget.xlsx": make_xlsx,
        "people.csv": make_csv,
        "letter.odt": make_odt,
        "slides.odp": make_odp,
        "stock.ods": make_ods,
        "novel.epub": make_epub,
        "archive.mbox": make_mbox,
        "memo.rtf": make_rtf,
        "analysis.ipynb": make_ipynb,
        "geometry.py": make_python,
        "config.yaml": make_yaml,
    }
    made = {name: make(folder / name) for name, make in makers.items()}
    made["message.eml"] = make_eml(folder / "message.eml", folder)
    return made


def notebook_json(cells: list[dict[str, object]]) -> str:
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def make_zip_bomb(path: Path, megabytes: int = 600) -> Path:
    """A .docx-looking zip holding ``megabytes`` of zeros in well under a megabyte."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            block = b"\0" * (1024 * 1024)
            for _ in range(megabytes):
                member.write(block)
    return path


def encrypted_docx(plain: Path) -> bytes:
    """``plain`` encrypted with a password by msoffcrypto-tool, as Word would save it."""
    from msoffcrypto.format.ooxml import OOXMLFile

    locked = io.BytesIO()
    with plain.open("rb") as handle:
        OOXMLFile(handle).encrypt("secret", locked)
    return locked.getvalue()


def damaged_pdf(sentence: str, part: str = "catalogue") -> bytes:
    """A PDF with a broken trailer (PDFium refuses it, pypdf recovers) or page tree (reverse)."""
    from tests.support.pdf import make_text_pdf

    good = make_text_pdf([sentence])
    if part == "catalogue":
        return good.replace(b"/Root 1 0 R", b"/Root 77 0 R")
    return good.replace(b"/Type /Pages", b"/Type /Nope")


def text_image(lines: list[str], width: int = 1275, height: int = 500) -> Image:
    """A white image with the lines drawn in black, as a scanner would see a page."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=36)
    for number, line in enumerate(lines):
        draw.text((60, 60 + 70 * number), line, fill="black", font=font)
    return image


def make_scanned_pdf(path: Path, lines: list[str]) -> Path:
    """A PDF whose only page is an image of the lines: no text layer at all."""
    text_image(lines).save(path, "PDF", resolution=150)
    return path


TEA_TABLE = [
    ["Estate", "Harvest tonnes", "Rainfall mm"],
    ["Darjeeling", "412", "3100"],
    ["Assam", "958", "2800"],
    ["Nilgiri", "377", "1900"],
]


PROSE = [
    "The survey began in the eastern valleys after the monsoon.",
    "Harvests by estate, in tonnes, with the year's rainfall:",
    "Pickers reported that the late frost spared the lower slopes.",
]


def make_table_pdf(path: Path, pages: int = 3) -> Path:
    """A report made by fpdf2: a running header and footer, prose, a ruled table on page 2."""
    from fpdf import FPDF

    pdf = FPDF()
    for number in range(1, pages + 1):
        pdf.add_page()
        pdf.set_font("Helvetica", size=9)
        pdf.cell(0, 8, "Tea Board of the Hills - internal", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(0, 6, PROSE[(number - 1) % len(PROSE)])
        if number == 2:
            with pdf.table() as table:
                for cells in TEA_TABLE:
                    row = table.row()
                    for cell in cells:
                        row.cell(cell)
        pdf.set_font("Helvetica", size=9)
        pdf.cell(0, 8, f"Page {number} of {pages}", new_x="LMARGIN", new_y="NEXT")
    path.write_bytes(bytes(pdf.output()))
    return path


LEFT_COLUMN = (
    "The glacier survey of the northern ridge counted forty-one crevasses along the upper "
    "route, and the rangers marked each one with a red pole before the spring thaw began."
)
RIGHT_COLUMN = (
    "Hut wardens in the southern valley kept a log of every party that crossed the pass, "
    "with the weather, the time they left and the time they came back down."
)


def make_two_column_pdf(path: Path, pages: int = 1) -> Path:
    """A page set in two columns by fpdf2, written line by line across both columns.

    Left and right lines alternate in the content stream (as many layout programs write
    them), so a reader that follows the stream mixes the columns; a full-width title above.
    """
    import textwrap

    from fpdf import FPDF

    pdf = FPDF()
    for _ in range(pages):
        pdf.add_page()
        pdf.set_font("Helvetica", size=16)
        pdf.text(10, 20, "Mountain notes: the ridge and the valley, a field report")
        pdf.set_font("Helvetica", size=10)
        left = textwrap.wrap(" ".join([LEFT_COLUMN] * 3), 48)
        right = textwrap.wrap(" ".join([RIGHT_COLUMN] * 3), 48)
        for line in range(max(len(left), len(right))):
            y = 35 + 5 * line
            if line < len(left):
                pdf.text(10, y, left[line])
            if line < len(right):
                pdf.text(110, y, right[line])
    path.write_bytes(bytes(pdf.output()))
    return path
