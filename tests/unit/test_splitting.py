from langchain_core.documents import Document

from app.ingestion.splitting import split_documents

TEXT = "\n\n".join(
    f"Paragraph {n}: " + " ".join(f"word{n}_{i}" for i in range(40)) for n in range(12)
)


def _doc(path: str, page: int | None = None) -> Document:
    return Document(
        page_content=TEXT,
        metadata={"source": path, "path": f"/root/{path}", "page": page, "content_hash": "abc"},
    )


def test_chunks_carry_position_and_identity() -> None:
    chunks = split_documents([_doc("a.md"), _doc("b.md")], chunk_size=300, chunk_overlap=40)
    for name in ("a.md", "b.md"):
        own = [c for c in chunks if c.metadata["source"] == name]
        assert [c.metadata["chunk"] for c in own] == list(range(len(own)))
        assert len(own) > 5
        for chunk in own:
            start = chunk.metadata["start_index"]
            assert TEXT[start : start + len(chunk.page_content)] == chunk.page_content
            assert len(chunk.page_content) <= 300
            assert chunk.metadata["content_hash"] == "abc"
    ids = [c.metadata["chunk_id"] for c in chunks]
    assert len(set(ids)) == len(ids)
    assert all(c.id == c.metadata["chunk_id"] for c in chunks)


def test_chunk_ids_are_stable() -> None:
    first = split_documents([_doc("a.md")], 300, 40)
    second = split_documents([_doc("a.md")], 300, 40)
    assert [c.id for c in first] == [c.id for c in second]


def test_pages_of_one_file_share_a_chunk_counter() -> None:
    chunks = split_documents([_doc("g.pdf", 1), _doc("g.pdf", 2)], 300, 40)
    assert [c.metadata["chunk"] for c in chunks] == list(range(len(chunks)))
    assert {c.metadata["page"] for c in chunks} == {1, 2}


def test_chunks_know_their_section_path() -> None:
    from app.ingestion.splitting import split_documents as split

    text = (
        "# Guide\n\nIntro words.\n\n## Installation\n\nGeneral steps.\n\n### Windows\n\n"
        + "Run the installer and reboot. " * 8
        + "\n\n```sh\n# not a heading\necho hi\n```\n\n## Usage\n\nAsk questions."
    )
    chunks = split([Document(text, metadata={"source": "guide.md"})], 120, 0)
    sections = [(c.page_content.split("\n", 1)[0], c.metadata["section"]) for c in chunks]
    assert sections[:3] == [
        ("# Guide", "Guide"),
        ("## Installation", "Guide > Installation"),
        ("### Windows", "Guide > Installation > Windows"),
    ]
    assert chunks[-1].page_content == "## Usage\n\nAsk questions."
    assert chunks[-1].metadata["section"] == "Guide > Usage"
    fenced = next(c for c in chunks if "not a heading" in c.page_content)
    assert fenced.metadata["section"] == "Guide > Installation > Windows"
    for chunk in chunks:
        start = chunk.metadata["start_index"]
        assert text[start : start + len(chunk.page_content)] == chunk.page_content


def test_citations_name_the_slide_or_sheet_and_the_section() -> None:
    from chains.qa import source_label

    assert source_label({"source": "deck.pptx", "page": 2, "page_label": "slide 2"}) == (
        "deck.pptx, slide 2"
    )
    assert source_label({"source": "g.md", "section": "Guide > Windows"}) == "g.md, Guide > Windows"
    assert source_label({"source": "a.pdf", "page": 3}) == "a.pdf, page 3"


def test_tables_and_code_blocks_that_fit_are_never_cut() -> None:
    table = "\n".join(
        ["| Estate | Tonnes |", "| --- | --- |"] + [f"| E{n} | {n} |" for n in range(12)]
    )
    code = "```python\n" + "\n".join(f"value_{n} = {n}" for n in range(10)) + "\n```"
    prose = " ".join(f"Sentence {n} about the harvest." for n in range(10))
    text = f"{prose}\n\n{table}\n\n{prose}\n\n{code}\n\n{prose}"
    assert len(table) < 300 and len(code) < 300
    chunks = split_documents([Document(text, metadata={"source": "t.md"})], 300, 30)
    assert any(table in chunk.page_content for chunk in chunks)
    assert any(code in chunk.page_content for chunk in chunks)
