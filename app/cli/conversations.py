"""Chat conversations kept on disk: one JSON-lines file each in ragkit's data folder.

The first line describes the conversation; each answer adds a line (question, answer,
sources, evidence, collection) as soon as it is given, so a crash loses nothing. Nothing is
sent anywhere.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.errors import NotInIndexError, UsageError

if TYPE_CHECKING:
    from app.answers import Answer

_ID_CHARS = set("0123456789abcdef-")


@dataclass(frozen=True)
class ConversationInfo:
    """One saved conversation, as ``rag chat --list`` shows it."""

    id: str
    started_at: str
    collection: str
    turns: int
    first_question: str


class ConversationLog:
    """Appends the answers of one conversation to its file (made at the first answer)."""

    def __init__(self, folder: Path, conversation_id: str | None = None) -> None:
        """A new conversation in ``folder``, or the one named ``conversation_id``."""
        self.folder = folder
        self.id = conversation_id or new_conversation_id()
        self.path = folder / f"{self.id}.jsonl"

    def append(self, answer: Answer, collection: str) -> None:
        """Add one answer; the file and its header line are written at the first."""
        lines: list[dict[str, Any]] = []
        if not self.path.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            header = {"type": "conversation", "id": self.id, "started_at": _now()}
            lines.append(header)
        lines.append(
            {
                "type": "turn",
                "at": _now(),
                "collection": collection,
                "question": answer.question,
                "answer": answer.text,
                "sources": [asdict(source) for source in answer.sources],
                "evidence": [asdict(item) for item in answer.evidence],
            }
        )
        with self.path.open("a", encoding="utf-8") as file:
            for line in lines:
                file.write(json.dumps(line, ensure_ascii=False) + "\n")
            file.flush()
            os.fsync(file.fileno())


def new_conversation_id() -> str:
    """A sortable id: the start time, then random hex (``20261202-043012-9f3a``)."""
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def read_turns(path: Path) -> list[dict[str, Any]]:
    """The turns of a conversation file; unreadable lines are left out."""
    turns = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and record.get("type") == "turn":
            turns.append(record)
    return turns


def list_conversations(folder: Path) -> list[ConversationInfo]:
    """The saved conversations, newest first."""
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("*.jsonl"), reverse=True):
        turns = read_turns(path)
        if not turns:
            continue
        found.append(
            ConversationInfo(
                id=path.stem,
                started_at=str(turns[0].get("at", "")),
                collection=str(turns[-1].get("collection", "")),
                turns=len(turns),
                first_question=str(turns[0].get("question", "")),
            )
        )
    return found


def find_conversation(folder: Path, conversation_id: str | None) -> Path:
    """The file of a conversation (the latest when no id is given); ``NotInIndexError``."""
    if conversation_id is not None and not set(conversation_id) <= _ID_CHARS:
        raise UsageError(f"{conversation_id!r} is not a conversation id (`rag chat --list`)")
    found = list_conversations(folder)
    if conversation_id is None:
        if not found:
            raise NotInIndexError("no saved conversation yet: start one with `rag chat`")
        return folder / f"{found[0].id}.jsonl"
    matches = [info for info in found if info.id.startswith(conversation_id)]
    if len(matches) != 1:
        what = "no conversation" if not matches else f"{len(matches)} conversations"
        raise NotInIndexError(f"{what} with id {conversation_id!r} (`rag chat --list` shows them)")
    return folder / f"{matches[0].id}.jsonl"


def answers_of(turns: list[dict[str, Any]]) -> list[Answer]:
    """The answers of saved turns, with their sources and evidence (for /sources and /save)."""
    from app.answers import Answer, Source
    from chains.evidence import Evidence

    def build(kind: type[Any], data: Any) -> Any:
        names = {f.name for f in fields(kind)}
        return kind(**{k: v for k, v in dict(data).items() if k in names})

    answers = []
    for turn in turns:
        try:
            sources = tuple(build(Source, s) for s in turn.get("sources", []))
            evidence = tuple(build(Evidence, e) for e in turn.get("evidence", []))
        except (TypeError, ValueError):
            sources, evidence = (), ()
        question = str(turn.get("question", ""))
        text = str(turn.get("answer", ""))
        answers.append(Answer(question=question, text=text, sources=sources, evidence=evidence))
    return answers


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
