"""Ingest jobs: one writer at a time, run in a thread, with progress readers can poll."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.errors import IndexBusyError, NotInIndexError
from app.serve.errors import error_body

if TYPE_CHECKING:
    from app.api import Rag
    from app.ingestion.loading import SkippedFile

MAX_KEPT_JOBS = 100


@dataclass
class Job:
    """One ingest: files read of total, then chunks embedded of total, skips, how it ended.

    ``files_total`` is what the upload holds, or 0 until the walk of a folder has counted it.
    """

    id: str
    files_total: int
    state: str = "running"
    files_done: int = 0
    chunks_done: int = 0
    chunks_total: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    warned: list[dict[str, str]] = field(default_factory=list)
    report: dict[str, Any] | None = None
    summary: str = ""
    error: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output (``JobModel``)."""
        return dict(self.__dict__)


class IngestJobs:
    """Starts ingests in the background, one at a time, and keeps the latest jobs."""

    def __init__(self, rag: Rag) -> None:
        """Ingest with ``rag``."""
        self._rag = rag
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._running: Job | None = None
        self._threads: list[threading.Thread] = []

    @property
    def running(self) -> Job | None:
        """The job writing the index now, if any."""
        return self._running

    def start(self, paths: Sequence[Path], files_total: int) -> Job:
        """Start ingesting ``paths``; ``IndexBusyError`` (409) names the job already running."""
        job = self.reserve(files_total)
        self.run(job, paths)
        return job

    def reserve(self, files_total: int) -> Job:
        """Take the writer's place for a job not yet started (409 when one runs).

        An upload reserves before it saves anything, so a refused one leaves no file behind;
        ``run`` starts the job, ``release`` gives the place back if it cannot start.
        """
        with self._lock:
            if self._running is not None:
                raise self.busy_error()
            job = Job(uuid.uuid4().hex[:16], files_total)
            self._running = job
            self._jobs[job.id] = job
            while len(self._jobs) > MAX_KEPT_JOBS:
                self._jobs.pop(next(iter(self._jobs)))
        return job

    def release(self, job: Job) -> None:
        """Give back the place of a reserved job that will not run, and forget the job."""
        with self._lock:
            if self._running is job:
                self._running = None
            self._jobs.pop(job.id, None)

    def run(self, job: Job, paths: Sequence[Path]) -> None:
        """Ingest ``paths`` as the reserved ``job``, in a thread."""
        thread = threading.Thread(
            target=self._run, args=(job, list(paths)), name=f"ingest-{job.id}", daemon=True
        )
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def busy_error(self) -> IndexBusyError:
        """The 409 for a write while a job runs: its id and where to follow it."""
        job = self._running
        name = job.id if job else "?"
        return IndexBusyError(
            f"another ingest is running (job {name}); GET /api/jobs/{name} shows its progress"
        )

    def get(self, job_id: str) -> Job:
        """A job by id (``NotInIndexError``, 404, when unknown)."""
        job = self._jobs.get(job_id)
        if job is None:
            raise NotInIndexError(f"no ingest job {job_id[:40]!r} on this server")
        return job

    def join(self, timeout: float) -> None:
        """Wait for running jobs (at shutdown)."""
        for thread in self._threads:
            thread.join(timeout)

    def _run(self, job: Job, paths: list[Path]) -> None:
        def on_skip(skipped: SkippedFile) -> None:
            kept = job.warned if skipped.indexed else job.skipped
            kept.append({"path": skipped.path, "reason": skipped.reason})

        def on_file(done: int, total: int) -> None:
            job.files_done, job.files_total = done, total

        def on_progress(done: int, total: int) -> None:
            job.chunks_done, job.chunks_total = done, total

        try:
            report = self._rag.ingest(
                paths, on_skip=on_skip, on_progress=on_progress, on_file=on_file
            )
            job.report, job.summary = report.to_dict(), report.summary()
            job.skipped = [_file_note(item) for item in report.skipped]
            job.warned = [_file_note(item) for item in report.warned]
            job.state = "done"
        except Exception as error:  # every failure ends the job with its one-line message
            job.error = error_body(error)["error"]
            job.summary = job.error["message"]
            job.state = "failed"
        finally:
            with self._lock:
                self._running = None


def _file_note(item: SkippedFile) -> dict[str, str]:
    """A file skipped, or read with a warning, as a job lists it."""
    return {"path": item.path, "reason": item.reason}
