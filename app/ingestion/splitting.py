"""Split Documents into chunks that know where they came from."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence

from langchain_core.documents import Document
from langchain_text_splitters import RecursiveCharacterTextSplitter


def split_documents(
    documents: Sequence[Document], chunk_size: int, chunk_overlap: int
) -> list[Document]:
    """Chunks with ``chunk`` (index within the file), ``start_index`` and a stable ``chunk_id``."""
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_size, chunk_overlap=chunk_overlap, add_start_index=True
    )
    chunks = splitter.split_documents(list(documents))
    per_file: Counter[str] = Counter()
    for chunk in chunks:
        file_key = str(chunk.metadata.get("path") or chunk.metadata.get("source", ""))
        index = per_file[file_key]
        per_file[file_key] += 1
        chunk.metadata["chunk"] = index
        chunk.metadata["chunk_id"] = chunk_id(
            file_key, str(chunk.metadata.get("content_hash", "")), index
        )
        chunk.id = chunk.metadata["chunk_id"]
    return chunks


def chunk_id(file_key: str, content_hash: str, index: int) -> str:
    """A short id that stays the same while the file and chunking stay the same."""
    key = f"{file_key}\0{content_hash}\0{index}".encode("utf-8", "surrogateescape")
    digest = hashlib.sha256(key).hexdigest()
    return digest[:20]
