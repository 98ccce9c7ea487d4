"""The store interface: where an index lives between processes.

Every store keeps the promises of the local snapshot folder: readers see the old or the new
index, never half of one; one writer at a time; a failed or interrupted publish leaves the
previous index readable; damaged data is an ``IndexDamagedError``; nothing is pickled.
Ingest, sync, reindexing, evaluation and ``Rag`` reach an index only through this interface.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from retrievers.docstore import ChunkRecord
    from retrievers.hybrid import CandidateSearch
    from retrievers.manifest import Manifest
    from retrievers.vector_index import VectorIndex, Vectors


class IndexStore(Protocol):
    """Load the live index, publish a new one atomically, read its manifest, lock writers."""

    @property
    def location(self) -> str:
        """Where the index is, as shown to the user (a folder, a database URL without secrets)."""
        ...

    def version(self) -> str:
        """An id of the live index that changes with every publish (``IndexNotFoundError``)."""
        ...

    def manifest(self) -> Manifest:
        """The live index's manifest, without loading vectors or texts."""
        ...

    def load(self) -> VectorIndex:
        """The live index, checked: any inconsistency raises ``IndexDamagedError``."""
        ...

    def searchable(self) -> VectorIndex | CandidateSearch:
        """What the retriever searches: the loaded index, or a handle searched where it lives."""
        ...

    def verify(self) -> Manifest:
        """Check the live index's parts agree without loading its vectors (for ``rag doctor``)."""
        ...

    def publish(self, index: VectorIndex) -> None:
        """Make ``index`` the live one in one step; on failure the previous one stays live."""
        ...

    def writer_lock(self, wait_seconds: float = 0.0) -> AbstractContextManager[None]:
        """Hold the one writer's lock, waiting up to ``wait_seconds`` (``IndexBusyError``)."""
        ...

    def size_bytes(self) -> int:
        """How much space the live index takes."""
        ...


@dataclass(frozen=True)
class IndexChanges:
    """One ingest's changes to an index kept row by row (a database).

    ``removed_paths``: files whose chunks leave (deleted, changed, renamed away);
    ``records`` and ``vectors``: the chunks of new, changed and renamed files, row for row;
    ``manifest``: the index afterwards (its file list is every file kept or written);
    ``replace``: drop every chunk first (``--rebuild``, or the first ingest).
    """

    manifest: Manifest
    removed_paths: Sequence[str]
    records: Sequence[ChunkRecord]
    vectors: Vectors
    replace: bool = False


@runtime_checkable
class IncrementalStore(Protocol):
    """A store that writes only what an ingest changed, in one transaction (Postgres).

    Ingest uses it instead of ``load`` + ``publish``: kept files' rows are never read.
    """

    def known_vectors(self, text_keys: Sequence[str]) -> Mapping[str, Vectors]:
        """Stored vectors by the SHA-256 of the text they were embedded from (the cache)."""
        ...

    def apply(self, changes: IndexChanges) -> None:
        """Carry out ``changes`` atomically: readers see the old or the new index."""
        ...
