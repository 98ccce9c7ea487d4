"""Split Documents into chunks that know where they came from.

Source code is split along functions and classes (LangChain's language-aware separators);
a Markdown table page (a sheet) is split between rows, its header repeated in every chunk.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence

from langchain_core.documents import Document
from langchain_text_splitters import Language, RecursiveCharacterTextSplitter


def split_documents(
    documents: Sequence[Document], chunk_size: int, chunk_overlap: int
) -> list[Document]:
    """Chunks with ``chunk`` (index within the file), ``start_index`` and a stable ``chunk_id``."""
    splitters: dict[str | None, RecursiveCharacterTextSplitter] = {}

    def splitter_for(language: str | None) -> RecursiveCharacterTextSplitter:
        if language not in splitters:
            separators = (
                RecursiveCharacterTextSplitter.get_separators_for_language(Language(language))
                if language
                else None
            )
            splitters[language] = RecursiveCharacterTextSplitter(
                separators,
                is_separator_regex=bool(language),
                chunk_size=chunk_size,
                chunk_overlap=chunk_overlap,
                add_start_index=True,
            )
        return splitters[language]

    chunks: list[Document] = []
    for document in documents:
        header = document.metadata.get("table_header")
        if header:
            chunks.extend(split_table(document, str(header), chunk_size))
        else:
            language = document.metadata.get("language")
            splitter = splitter_for(str(language) if language else None)
            if language:
                chunks.extend(splitter.split_documents([document]))
            else:
                chunks.extend(split_by_section(document, splitter))
    per_file: Counter[str] = Counter()
    for chunk in chunks:
        chunk.metadata.pop("table_header", None)
        file_key = str(chunk.metadata.get("path") or chunk.metadata.get("source", ""))
        index = per_file[file_key]
        per_file[file_key] += 1
        chunk.metadata["chunk"] = index
        chunk.metadata["chunk_id"] = chunk_id(
            file_key, str(chunk.metadata.get("content_hash", "")), index
        )
        chunk.id = chunk.metadata["chunk_id"]
    return chunks


_HEADING = re.compile(r"^(#{1,6}) +(.+?)[ #]*$")
_FENCE = re.compile(r"^(```|~~~)")


def section_starts(text: str) -> list[tuple[int, str]]:
    """Where each Markdown heading starts and the section path it opens ("A > B > C").

    Headings inside fenced code blocks are not headings.
    """
    starts: list[tuple[int, str]] = []
    path: list[tuple[int, str]] = []
    in_fence = False
    position = 0
    for line in text.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and (match := _HEADING.match(line)):
            level = len(match.group(1))
            path = [(lvl, name) for lvl, name in path if lvl < level] + [(level, match.group(2))]
            starts.append((position, " > ".join(name for _, name in path)))
        position += len(line) + 1
    return starts


def split_by_section(
    document: Document, splitter: RecursiveCharacterTextSplitter
) -> list[Document]:
    """Chunks that never span two sections, each with its ``section`` path when it has one."""
    text = document.page_content
    starts = section_starts(text)
    if not starts:
        return splitter.split_documents([document])
    bounds = [(0, "")] if starts[0][0] > 0 else []
    bounds += starts
    chunks = []
    for (start, path), (end, _) in zip(bounds, [*bounds[1:], (len(text), "")], strict=True):
        part = text[start:end]
        if not part.strip():
            continue
        metadata = {**document.metadata, **({"section": path} if path else {})}
        for chunk in splitter.split_documents([Document(part, metadata=metadata)]):
            chunk.metadata["start_index"] = start + int(chunk.metadata.get("start_index", 0))
            chunks.append(chunk)
    return chunks


def split_table(document: Document, header: str, chunk_size: int) -> list[Document]:
    """Whole rows of a Markdown table per chunk, each chunk starting with the header lines."""
    text = document.page_content
    body_start = len(header) + 1
    chunks: list[Document] = []
    rows: list[str] = []
    start = position = body_start
    budget = max(chunk_size - len(header) - 1, 1)
    for row in text[body_start:].split("\n"):
        if rows and sum(len(r) + 1 for r in rows) + len(row) > budget:
            chunks.append(_table_chunk(document, header, rows, start))
            rows, start = [], position
        rows.append(row)
        position += len(row) + 1
    if rows or not chunks:
        chunks.append(_table_chunk(document, header, rows, start if rows else 0))
    return chunks


def _table_chunk(document: Document, header: str, rows: list[str], start: int) -> Document:
    content = "\n".join([header, *rows]) if rows else header
    return Document(page_content=content, metadata={**document.metadata, "start_index": start})


def chunk_id(file_key: str, content_hash: str, index: int) -> str:
    """A short id that stays the same while the file and chunking stay the same."""
    key = f"{file_key}\0{content_hash}\0{index}".encode("utf-8", "surrogateescape")
    digest = hashlib.sha256(key).hexdigest()
    return digest[:20]
