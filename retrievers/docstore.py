"""The chunk texts and metadata of a snapshot, kept on disk and read row by row.

``docstore.jsonl`` holds one JSON object a chunk (``{"id", "text", "metadata"}``, ASCII so
any file name survives a round trip) and ``docstore.offsets.npy`` the byte offset where each
line starts, plus the file's length. A search reads only the rows it returns, so a million
chunks cost 8 MB of offsets in memory instead of gigabytes of text. Rows are read with
``pread`` through a descriptor opened at load, like the vectors: a pruned snapshot folder
stays readable by the process that has it open.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

import numpy as np
import numpy.typing as npt

DOCSTORE_FILE = "docstore.jsonl"
OFFSETS_FILE = "docstore.offsets.npy"
_SCAN_BLOCK = 1 << 24


@dataclass(frozen=True)
class ChunkRecord:
    """One stored chunk: a stable id, its text and its metadata."""

    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


class DocstoreError(ValueError):
    """The docstore files are missing, cut short or do not parse; the message says which."""


def write_docstore(folder: Path, records: Iterable[ChunkRecord]) -> int:
    """Write the records and their line offsets into ``folder``; returns how many."""
    offsets = [0]
    with open(folder / DOCSTORE_FILE, "wb") as handle:
        for record in records:
            line = {"id": record.id, "text": record.text, "metadata": record.metadata}
            data = (json.dumps(line) + "\n").encode("ascii")
            handle.write(data)
            offsets.append(offsets[-1] + len(data))
    np.save(folder / OFFSETS_FILE, np.asarray(offsets, dtype=np.int64), allow_pickle=False)
    return len(offsets) - 1


Damage = Callable[[str], Exception]
"""Turns a reason ("docstore.jsonl line 7 is invalid ...") into the exception to raise."""


class Docstore(Sequence[ChunkRecord]):
    """The records of a docstore file, parsed when asked for."""

    def __init__(
        self, path: Path, offsets: npt.NDArray[np.int64], damaged: Damage = DocstoreError
    ) -> None:
        """Open ``path`` whose line i spans ``offsets[i]:offsets[i + 1]``.

        A row that does not parse when read raises ``damaged(reason)``.
        """
        self._offsets = offsets
        self._damaged = damaged
        self._descriptor = os.open(path, os.O_RDONLY)

    @classmethod
    def open(cls, folder: Path, damaged: Damage = DocstoreError) -> Docstore:
        """The docstore of a snapshot folder, checked: its size, first and last rows.

        Snapshots written before the offsets file existed get their offsets by a scan.
        Problems raise ``damaged(reason)``.
        """
        path = folder / DOCSTORE_FILE
        if not path.is_file():
            raise damaged(f"{DOCSTORE_FILE} is missing")
        offsets_path = folder / OFFSETS_FILE
        try:
            offsets = (
                np.load(offsets_path, allow_pickle=False)
                if offsets_path.is_file()
                else _scan_offsets(path)
            )
        except (ValueError, OSError) as error:
            raise damaged(f"{OFFSETS_FILE} is unreadable ({error})") from error
        if offsets.ndim != 1 or not len(offsets) or offsets.dtype != np.int64:
            raise damaged(f"{OFFSETS_FILE} is not a list of line offsets")
        store = cls(path, offsets, damaged)
        if len(store):
            store[0]
        size = path.stat().st_size
        if size != int(offsets[-1]):
            raise damaged(f"{DOCSTORE_FILE} has {size} bytes where {int(offsets[-1])} were written")
        if len(store):
            store[-1]
        return store

    def __del__(self) -> None:
        """Close the file (at interpreter exit the modules may already be gone)."""
        try:  # noqa: SIM105 - contextlib may be torn down already at exit
            os.close(self._descriptor)
        except (AttributeError, OSError, TypeError):
            pass

    def __len__(self) -> int:
        """Number of records."""
        return len(self._offsets) - 1

    @overload
    def __getitem__(self, index: int) -> ChunkRecord: ...

    @overload
    def __getitem__(self, index: slice) -> list[ChunkRecord]: ...

    def __getitem__(self, index: int | slice) -> ChunkRecord | list[ChunkRecord]:
        """One record (read from disk now), or a list for a slice."""
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        row = index + len(self) if index < 0 else index
        if not 0 <= row < len(self):
            raise IndexError(f"docstore row {index} out of range")
        start, end = int(self._offsets[row]), int(self._offsets[row + 1])
        return self._parse(os.pread(self._descriptor, end - start, start), row + 1)

    def __iter__(self) -> Iterator[ChunkRecord]:
        """Every record in row order, read sequentially."""
        with os.fdopen(os.dup(self._descriptor), "rb") as handle:
            handle.seek(0)
            for number, line in enumerate(handle, start=1):
                if number > len(self):
                    break
                yield self._parse(line, number)

    def _parse(self, data: bytes, number: int) -> ChunkRecord:
        """One docstore line (``number`` counts from 1, for the error message)."""
        try:
            row = json.loads(data)
            return ChunkRecord(str(row["id"]), str(row["text"]), dict(row["metadata"]))
        except (ValueError, KeyError, TypeError) as error:
            reason = f"{DOCSTORE_FILE} line {number} is invalid ({error})"
            raise self._damaged(reason) from error


def _scan_offsets(path: Path) -> npt.NDArray[np.int64]:
    """Line start offsets of a file (and its length), found by scanning for newlines."""
    starts = [np.zeros(1, dtype=np.int64)]
    position = 0
    with open(path, "rb") as handle:
        while block := handle.read(_SCAN_BLOCK):
            ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 0x0A)
            starts.append(ends.astype(np.int64) + position + 1)
            position += len(block)
    offsets = np.concatenate(starts)
    return offsets if offsets[-1] == position else np.append(offsets, position)
