"""Move an index between the local store and Postgres without embedding anything again.

Chunks, their stored vectors, the file hashes (so the next ingest syncs rather than starts
over) and the embedding spec are copied as they are; both stores' writer locks are held.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np

from app.config.settings import Settings
from retrievers.docstore import ChunkRecord
from retrievers.store import IncrementalStore, IndexChanges, IndexStore

Progress = Callable[[int, int], None]
"""Called with (chunks copied so far, chunks to copy)."""
PROGRESS_EVERY = 1000


@dataclass(frozen=True)
class MigrateReport:
    """What a migration copied, for the summary line and ``--json``."""

    source: str
    target: str
    files: int
    chunks: int
    chunks_embedded: int
    seconds: float

    def summary(self) -> str:
        """One line: what moved where, and that nothing was embedded."""
        return (
            f"Copied {self.files} files, {self.chunks} chunks from {self.source} to "
            f"{self.target}: {self.chunks_embedded} chunks embedded; {self.seconds:.1f} s"
        )


class _Counted(Sequence[ChunkRecord]):
    """Records that report how many have been read, as a store writes them."""

    def __init__(self, records: Sequence[ChunkRecord], on_progress: Progress | None) -> None:
        self._records = records
        self._on_progress = on_progress

    def __len__(self) -> int:
        return len(self._records)

    @overload
    def __getitem__(self, row: int) -> ChunkRecord: ...

    @overload
    def __getitem__(self, row: slice) -> Sequence[ChunkRecord]: ...

    def __getitem__(self, row: Any) -> Any:
        return self._records[row]

    def __iter__(self) -> Iterator[ChunkRecord]:
        total = len(self._records)
        for number, record in enumerate(self._records, start=1):
            yield record
            if self._on_progress is not None and (number % PROGRESS_EVERY == 0 or number == total):
                self._on_progress(number, total)


def migrate_index(
    source: IndexStore,
    target: IndexStore,
    settings: Settings,
    *,
    wait_seconds: float = 0.0,
    on_progress: Progress | None = None,
) -> MigrateReport:
    """Copy the live index of ``source`` into ``target`` in one step (nothing embedded)."""
    started = time.perf_counter()
    with source.writer_lock(wait_seconds), target.writer_lock(wait_seconds):
        index = source.load()
        if isinstance(target, IncrementalStore):
            target.apply(
                IndexChanges(
                    index.manifest,
                    (),
                    _Counted(index.records, on_progress),
                    np.asarray(index.stored_vectors, dtype=np.float32),
                    replace=True,
                )
            )
        else:
            rebuilt = index.rebuilt(settings.index_type, settings.vector_dtype)
            rebuilt.records = _Counted(list(index.records), on_progress)
            target.publish(rebuilt)
    return MigrateReport(
        source=source.location,
        target=target.location,
        files=len(index.files),
        chunks=len(index),
        chunks_embedded=0,
        seconds=time.perf_counter() - started,
    )
