"""Property-based tests: splitting and the index round trip hold for arbitrary text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.documents import Document

from app.ingestion.splitting import split_documents
from retrievers.docstore import ChunkRecord
from retrievers.manifest import Chunking, EmbeddingSpec, FileEntry
from retrievers.snapshot_store import SnapshotStore
from retrievers.vector_index import VectorIndex

words = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=12,
)
# Words are numbered: LangChain locates each chunk by searching the text, which is ambiguous
# when a long run of text repeats exactly.
texts = st.lists(
    st.tuples(words, st.sampled_from([" ", "\n", "\n\n", ". "])), min_size=1, max_size=120
).map(
    lambda parts: "".join(
        f"{word}{number}{separator}" for number, (word, separator) in enumerate(parts)
    )
)


@settings(max_examples=150, deadline=None)
@given(text=texts, chunk_size=st.integers(20, 300), overlap_share=st.floats(0.0, 0.5))
def test_chunks_point_at_their_text_cover_it_and_overlap_boundedly(
    text: str, chunk_size: int, overlap_share: float
) -> None:
    overlap = int(chunk_size * overlap_share)
    doc = Document(page_content=text, metadata={"source": "t.md", "path": "/t.md"})
    chunks = split_documents([doc], chunk_size, overlap)
    covered = [False] * len(text)
    previous_end = 0
    for number, chunk in enumerate(chunks):
        start = chunk.metadata["start_index"]
        assert text[start : start + len(chunk.page_content)] == chunk.page_content
        assert chunk.metadata["chunk"] == number
        assert start >= previous_end - overlap  # neighbours share at most `overlap` characters
        previous_end = start + len(chunk.page_content)
        for position in range(start, previous_end):
            covered[position] = True
    uncovered = "".join(char for char, seen in zip(text, covered, strict=True) if not seen)
    assert uncovered.strip() == ""  # only separators may fall between chunks


metadata_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53), 2**53),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",))),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.tuples(
            st.text(alphabet=st.characters(blacklist_categories=("Cs",))),
            st.dictionaries(st.text(min_size=1, max_size=8), metadata_values, max_size=4),
        ),
        min_size=1,
        max_size=8,
    ),
    odd_path=st.binary(min_size=1, max_size=12),
)
def test_text_and_metadata_survive_the_index_round_trip(
    tmp_path: Path, rows: list[tuple[str, dict[str, object]]], odd_path: bytes
) -> None:
    # File names may hold bytes that are not UTF-8; they arrive as surrogate escapes.
    path = "/docs/" + odd_path.replace(b"/", b"_").decode("utf-8", "surrogateescape")
    records = [
        ChunkRecord(f"id{i}", text, {**meta, "path": path}) for i, (text, meta) in enumerate(rows)
    ]
    vectors = np.random.default_rng(len(rows)).normal(size=(len(rows), 4)).astype(np.float32)
    spec = EmbeddingSpec("test", "model", 4)
    files = [FileEntry(path, "name", "hash", len(rows), 1)]
    folder = tmp_path / f"idx-{len(rows)}-{abs(hash(path))}"
    chunking = Chunking(chunk_size=1000, chunk_overlap=100)
    store = SnapshotStore(folder)
    store.publish(VectorIndex.from_vectors(spec, chunking, records, vectors, files))
    loaded = store.load()
    assert list(loaded.records) == records
    assert loaded.files == tuple(files)
