"""The store interface: where an index lives between processes.

Every store keeps the promises of the local snapshot folder: readers see the old or the new
index, never half of one; one writer at a time; a failed or interrupted publish leaves the
previous index readable; damaged data is an ``IndexDamagedError``; nothing is pickled.
Ingest, sync, reindexing, evaluation and ``Rag`` reach an index only through this interface.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from retrievers.manifest import Manifest
    from retrievers.vector_index import VectorIndex


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
