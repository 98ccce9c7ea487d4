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
