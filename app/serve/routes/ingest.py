"""POST /api/ingest (uploads or a path under the roots) as a background job; GET /api/jobs/{id}."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from app.errors import TooLargeError, UsageError
from app.serve.dependencies import error_responses, server_state
from app.serve.schemas import IngestPathRequest, JobModel
from app.serve.state import ServerState
from app.serve.uploads import confined_path, safe_name

router = APIRouter(prefix="/api", tags=["ingest"])
State = Annotated[ServerState, Depends(server_state)]

COPY_BUFFER = 1024 * 1024

INGEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                        }
                    },
                    "required": ["files"],
                }
            },
            "application/json": {"schema": IngestPathRequest.model_json_schema()},
        },
    }
}


@router.post(
    "/ingest",
    status_code=202,
    response_model=JobModel,
    responses=error_responses(404, 409, 413, 422),
    openapi_extra=INGEST_BODY,
)
async def ingest(request: Request, state: State) -> dict[str, Any]:
    """Index uploaded files (multipart ``files``) or ``{"path"}`` under RAG_SERVE_ROOTS.

    Returns the job at once (202); ``GET /api/jobs/{id}`` follows it. One ingest at a time:
    a second one gets 409 with the running job's id.
    """
    if state.jobs.running is not None:
        raise state.jobs.busy_error()
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            body = IngestPathRequest.model_validate_json(await request.body())
        except ValidationError as error:
            problem = error.errors()[0]
            where = ".".join(map(str, problem.get("loc", ()))) or "body"
            raise UsageError(f"{where}: {problem.get('msg', 'invalid')}") from None
        path = confined_path(body.path, state.roots)
        return state.jobs.start([path], files_total=0).to_dict()
    if kind != "multipart/form-data":
        raise UsageError('send files as multipart/form-data (field files) or JSON {"path": ...}')
    limits = state.limits
    try:
        form = await request.form(max_files=limits.files + 1, max_fields=20)
    except HTTPException as error:  # the multipart parser's own limits
        message = str(error.detail)
        raise (TooLargeError if "Too many" in message else UsageError)(message) from None
    try:
        uploads = [item for item in form.getlist("files") if isinstance(item, UploadFile)]
        if not uploads:
            raise UsageError("no files in the upload (send them in the multipart field files)")
        if len(uploads) > limits.files:
            raise TooLargeError(f"at most {limits.files} files in one upload (RAG_SERVE_MAX_FILES)")
        for upload in uploads:
            if (upload.size or 0) > limits.file_bytes:
                raise TooLargeError(
                    f"{safe_name(upload.filename or '')} is over {limits.file_bytes // 2**20} MB "
                    "(RAG_MAX_FILE_MB)"
                )
        # The writer's place is taken before a byte is saved: a refused upload leaves nothing.
        job = state.jobs.reserve(files_total=len(uploads))
        try:
            saved = await anyio.to_thread.run_sync(_save, uploads, state.upload_dir)
        except BaseException:
            state.jobs.release(job)
            raise
    finally:
        await form.close()
    job.files_total = len(saved)
    state.jobs.run(job, saved)
    return job.to_dict()


def _save(uploads: list[UploadFile], folder: Path) -> list[Path]:
    """Write the uploads into the server's folder under safe names (each replaced atomically)."""
    folder.mkdir(parents=True, exist_ok=True)
    names = [safe_name(upload.filename or "") for upload in uploads]
    saved = []
    for upload, name in zip(uploads, names, strict=True):
        upload.file.seek(0)
        handle, temporary = tempfile.mkstemp(prefix=".upload-", dir=folder)
        try:
            with os.fdopen(handle, "wb") as out:
                shutil.copyfileobj(upload.file, out, COPY_BUFFER)
            target = folder / name
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        saved.append(target.resolve())
    return list(dict.fromkeys(saved))


@router.get("/jobs/{job_id}", response_model=JobModel, responses=error_responses(404))
def job(job_id: str, state: State) -> dict[str, Any]:
    """An ingest's progress: files read of total, chunks embedded of total, skips with reasons."""
    return state.jobs.get(job_id).to_dict()
