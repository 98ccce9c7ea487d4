"""What is in the index: GET /api/status, /api/documents, /api/chunks/{id}; DELETE a document."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from app.serve.dependencies import error_responses, server_state
from app.serve.schemas import DocumentsResponse, ForgetResponse, SourceModel, StatusModel
from app.serve.state import ServerState

router = APIRouter(prefix="/api", tags=["index"])
State = Annotated[ServerState, Depends(server_state)]


@router.get("/status", response_model=StatusModel, responses=error_responses(404, 409))
def status(state: State) -> dict[str, Any]:
    """What ``rag status`` shows: files, chunks, embedding model, size, chunking."""
    return state.rag.status().to_dict()


@router.get("/documents", response_model=DocumentsResponse, responses=error_responses(404))
def documents(state: State) -> dict[str, Any]:
    """The files in the index with their chunk counts."""
    return {"documents": [item.to_dict() for item in state.rag.documents()]}


@router.get("/chunks/{chunk_id}", response_model=SourceModel, responses=error_responses(404))
def chunk(chunk_id: str, state: State) -> dict[str, Any]:
    """One passage by its id, as a citation links to it."""
    return state.rag.passage(chunk_id).to_dict()


@router.delete(
    "/documents/{source:path}", response_model=ForgetResponse, responses=error_responses(404, 409)
)
def forget(source: str, state: State) -> dict[str, Any]:
    """Remove a file from the index; an uploaded copy the server keeps is deleted too."""
    if state.jobs.running is not None:
        raise state.jobs.busy_error()
    paths = {item.source: item.path for item in state.rag.documents()}
    report = state.rag.forget([source])
    uploaded = paths.get(source)
    if uploaded:
        from pathlib import Path

        copy = Path(uploaded)
        if copy.parent == state.upload_dir.resolve() and copy.is_file():
            copy.unlink()
    data = dict(report.__dict__)
    data["removed"] = list(report.removed)
    return data
