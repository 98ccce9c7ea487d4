import pytest

from app.ingestion.formats import (
    UnreadableDocument,
    decode_text,
    html_to_text,
    markdown_title,
    parse_document,
)
from tests.support.pdf import make_text_pdf


def test_utf8_and_boms() -> None:
    assert decode_text("naïve café".encode()) == "naïve café"
    assert decode_text("\ufeffhello".encode()) == "hello"
    assert decode_text("héllo wörld".encode("utf-16")) == "héllo wörld"


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("本地模型需要足够的内存，量化可以减少内存占用。" * 4, "gbk"),
        ("Le café est très chaud et la crème brûlée est délicieuse. " * 3, "cp1252"),
        ("Größe und Übergröße für Straße. " * 3, "cp1252"),
        ("Příliš žluťoučký kůň úpěl ďábelské ódy. " * 3, "cp1250"),
        ("Привет, как дела? Это тест кодировки. " * 3, "cp1251"),
    ],
)
def test_legacy_encodings_fall_back_to_detection(text: str, encoding: str) -> None:
    assert decode_text(text.encode(encoding)) == text


def test_binary_is_refused() -> None:
    with pytest.raises(UnreadableDocument, match="binary"):
        decode_text(b"\x7fELF\x02\x01\x01\x00\x00\x00\x00")


def test_html_keeps_visible_text_and_title() -> None:
    html = (
        "<html><head><title>My  page</title><style>p {color: red}</style></head>"
        "<body><script>alert('x')</script><h1>Heading</h1><p>First &amp; second</p>"
        "<noscript>enable js</noscript><p>Last</p></body></html>"
    )
    title, text = html_to_text(html)
    assert title == "My page"
    assert text == "# Heading\nFirst & second\nLast"


def test_markdown_title() -> None:
    assert markdown_title("intro\n# The Title\n## sub") == "The Title"
    assert markdown_title("no heading") is None


def test_pdf_pages_are_numbered_from_one() -> None:
    data = make_text_pdf(["First page about Ollama.", "", "Third page about FAISS."])
    parsed = parse_document(data, ".pdf", "guide")
    assert [page.number for page in parsed.pages] == [1, 3]
    assert "Ollama" in parsed.pages[0].text
    assert "FAISS" in parsed.pages[1].text


def test_broken_pdf_is_unreadable() -> None:
    with pytest.raises(UnreadableDocument, match="PDF"):
        parse_document(b"%PDF-1.4\n garbage garbage", ".pdf", "broken")


def test_text_document_title_falls_back_to_file_name() -> None:
    parsed = parse_document(b"plain words", ".txt", "notes")
    assert parsed.title == "notes"
    assert parsed.pages[0].number is None
