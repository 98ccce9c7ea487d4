"""The store and the retriever the settings describe.

The one place that reads RAG_INDEX_DIR, RAG_STORE and the Postgres URLs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.config.paths import collections_dir, resolve_index_dir, validate_collection_name
from app.config.settings import Settings
from app.errors import ConfigError, NotInIndexError, UsageError
from app.models.embeddings import reads_cjk
from app.models.rerankers import build_reranker

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from retrievers.hybrid import CandidateSearch, HybridRetriever, SearchableIndex
    from retrievers.modes import Mode
    from retrievers.postgres.store import PostgresStore
    from retrievers.snapshot_store import SnapshotStore
    from retrievers.store import IndexStore


def build_store(settings: Settings, on_note: Callable[[str], None] | None = None) -> IndexStore:
    """The store that holds the settings' collection: its local snapshot folder, or Postgres.

    ``on_note`` hears one line when an old ``./data/index`` is used, with how to move it.
    """
    if settings.store == "postgres":
        return postgres_store(settings, collection=settings.collection)
    folder, note = index_folder(settings)
    if note and on_note is not None:
        on_note(note)
    return local_store(folder)


def index_folder(settings: Settings) -> tuple[Path, str | None]:
    """The local index folder of the settings' collection, and the note ``build_store`` gives."""
    return resolve_index_dir(settings.index_dir, settings.collection)


def home_collections() -> dict[str, SnapshotStore]:
    """The collections in ragkit's data folder, by name (what ``rag collections`` lists)."""
    root = collections_dir()
    if not root.is_dir():
        return {}
    return {
        entry.name: local_store(entry)
        for entry in sorted(root.iterdir())
        if entry.is_dir() and _is_collection_name(entry.name)
    }


def store_collections(settings: Settings) -> dict[str, IndexStore]:
    """Every collection of the settings' store, by name: the data folder's, or the database's."""
    if settings.store == "postgres":
        database = postgres_store(settings, collection=settings.collection)
        names = database.collection_names()
        return {name: postgres_store(settings, collection=name) for name in names}
    return dict(home_collections())


def drop_store_collection(settings: Settings, name: str, wait_seconds: float = 0.0) -> str:
    """Delete one collection of the settings' store; where it was (``NotInIndexError``)."""
    if settings.store != "postgres":
        return str(drop_home_collection(name, wait_seconds))
    store = postgres_store(settings, collection=validate_collection_name(name))
    if name not in store.collection_names():
        raise NotInIndexError(f"no collection named {name!r} (`rag collections` lists them)")
    store.drop(wait_seconds)
    return store.location


def drop_home_collection(name: str, wait_seconds: float = 0.0) -> Path:
    """Delete a collection of the data folder, once no writer holds it (``NotInIndexError``).

    The folder is first renamed out of the way, so readers see no index rather than half one.
    """
    import os
    import shutil

    store = home_collections().get(validate_collection_name(name))
    if store is None:
        raise NotInIndexError(f"no collection named {name!r} (`rag collections` lists them)")
    folder = store.index_dir
    doomed = folder.with_name(f".dropped-{name}-{os.getpid()}")
    with store.writer_lock(wait_seconds):
        os.replace(folder, doomed)
    shutil.rmtree(doomed, ignore_errors=True)
    return folder


def _is_collection_name(name: str) -> bool:
    try:
        validate_collection_name(name)
    except ConfigError:
        return False
    return True


def migration_stores(settings: Settings, to: str) -> tuple[IndexStore, IndexStore]:
    """(source, target) of ``rag migrate --to``: RAG_INDEX_DIR and RAG_POSTGRES_URL."""
    if to not in ("postgres", "local"):
        raise UsageError(f"--to must be postgres or local; got {to!r}")
    local = local_store(index_folder(settings)[0])
    database = postgres_store(settings, collection=settings.collection)
    return (local, database) if to == "postgres" else (database, local)


def shown_url(url: str) -> str:
    """A database URL as users and logs may see it: no password."""
    from retrievers.postgres.connection import masked_url

    return masked_url(url)


def _warn_stderr(message: str) -> None:
    print(f"ragkit: warning: {message}", file=sys.stderr)


def postgres_store(
    settings: Settings,
    *,
    collection: str = "default",
    warn: Callable[[str], None] = _warn_stderr,
) -> PostgresStore:
    """The collection ``collection`` of the database at RAG_POSTGRES_URL."""
    url = settings.postgres_url
    if not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(
            "RAG_STORE=postgres needs RAG_POSTGRES_URL=postgresql://USER@HOST:PORT/DATABASE"
            + (" (it does not start with postgresql://)" if url else "")
        )
    read_url = settings.postgres_read_url
    if read_url and not read_url.startswith(("postgresql://", "postgres://")):
        raise ConfigError("RAG_POSTGRES_READ_URL must be a postgresql:// URL, or empty")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise ConfigError(
            "RAG_STORE=postgres needs the psycopg driver: pip install 'ragkit[postgres]'"
        ) from None
    from retrievers.postgres.store import PostgresStore

    try:
        return PostgresStore(url, collection=collection, read_url=read_url or None, warn=warn)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def local_store(index_dir: Path) -> SnapshotStore:
    """A snapshot store at a given folder (``rag eval --index`` keeps its corpus index there)."""
    from retrievers.snapshot_store import SnapshotStore

    return SnapshotStore(index_dir)


def build_retriever(
    settings: Settings,
    index: SearchableIndex | CandidateSearch,
    embeddings: Embeddings | None,
    *,
    k: int | None = None,
    mode: Mode | None = None,
    **options: Any,
) -> HybridRetriever:
    """The retriever the settings describe over ``index`` (options: source_glob, mmr, ...)."""
    from retrievers.hybrid import HybridRetriever

    return HybridRetriever(
        index=index,
        embeddings=embeddings,
        k=k or settings.top_k,
        mode=mode or settings.retrieval_mode,
        rrf_k=settings.rrf_k,
        fusion=settings.fusion,
        dense_reads_cjk=reads_cjk(settings.embed_model),
        reranker=build_reranker(settings.rerank_model),
        **options,
    )
