"""What every route shares: the one ``Rag`` of the process, its answer queue, its ingest jobs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.serve.answer_queue import AnswerQueue
from app.serve.jobs import IngestJobs

if TYPE_CHECKING:
    from app.api import Rag


@dataclass(frozen=True)
class ServerLimits:
    """Upload limits: bytes of one file, bytes of one request, files in one request."""

    file_bytes: int
    request_bytes: int
    files: int


@dataclass
class ServerState:
    """The engine and the server's own resources, built once per process."""

    rag: Rag
    queue: AnswerQueue
    jobs: IngestJobs
    limits: ServerLimits
    upload_dir: Path
    roots: tuple[Path, ...]
    model_name: str = "ragkit"

    @classmethod
    def for_rag(cls, rag: Rag, upload_dir: Path | None = None) -> ServerState:
        """State from ``rag``'s settings (RAG_SERVE_*, RAG_MAX_FILE_MB).

        Uploads go to a folder of the user data folder, one per index.
        """
        import hashlib

        from app.config.paths import user_data_dir
        from app.serve.uploads import parse_roots

        settings = rag.settings
        per_index = hashlib.sha256(str(rag.store.location).encode()).hexdigest()[:16]
        megabyte = 1024 * 1024
        return cls(
            rag=rag,
            queue=AnswerQueue(settings.serve_queue),
            jobs=IngestJobs(rag),
            limits=ServerLimits(
                file_bytes=settings.max_file_mb * megabyte,
                request_bytes=settings.serve_max_upload_mb * megabyte,
                files=settings.serve_max_files,
            ),
            upload_dir=upload_dir or user_data_dir() / "uploads" / per_index,
            roots=parse_roots(settings.serve_roots),
        )
