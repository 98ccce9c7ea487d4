"""The chat REPL: one question a line; slash commands; survives an error in one question."""

from __future__ import annotations

import atexit
import contextlib
import json
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from app.answers import SearchOptions
from app.cli.display import footer_lines, show_answer
from app.cli.interrupts import InterruptGuard
from app.errors import RagError, one_line
from retrievers.modes import MODES, Mode

if TYPE_CHECKING:
    from app.answers import Answer
    from app.api import Rag
    from app.cli.conversations import ConversationLog

HELP = """Type a question and press Enter. Commands:
  /sources    path, page, chunk, score and snippet of the last answer's sources
  /retry      ask the last question again
  /reset      forget the conversation so far
  /k N        retrieve N chunks per question
  /mode M     retrieval mode: hybrid, dense or bm25
  /model      which answer and embedding models are in use
  /save FILE  write the conversation to FILE as Markdown
  /collection NAME  ask another collection (no NAME: which one is in use)
  /help       this help
  /exit       leave (Ctrl-D works too)"""


WARM_UP_WAIT_SECONDS = 60.0  # at most, for a model still loading when the chat ends
_QUIET_WAIT_SECONDS = 0.5


class ChatSession:
    """Reads questions from a terminal (with line editing) or from piped input."""

    def __init__(
        self,
        rag: Rag,
        *,
        interactive: bool,
        read_line: Callable[[str], str] | None = None,
        out: TextIO | None = None,
        json_lines: bool = False,
        live: bool = True,
        force: bool = False,
        log: ConversationLog | None = None,
        resumed: Sequence[Answer] = (),
    ) -> None:
        """Answer with ``rag``; ``read_line`` defaults to ``input`` (terminal) or stdin.

        ``live`` streams answers as they are generated; Markdown is rendered when the
        output is a terminal; ``force`` asks the model even when nothing is close. ``log``
        keeps each answer on disk; ``resumed`` are the answers of a conversation continued.
        """
        self.rag = rag
        self.interactive = interactive
        self.out = out or sys.stdout
        self.json_lines = json_lines
        self.live = live
        self.force = force
        self.markdown = interactive and self.out.isatty()
        self.k = rag.settings.top_k
        self.mode: Mode = rag.settings.retrieval_mode
        self.log = log
        self.transcript: list[Answer] = list(resumed)
        self.last_answer: Answer | None = self.transcript[-1] if self.transcript else None
        self.history: list[BaseMessage] = []
        for answer in self.transcript:
            self.history += [HumanMessage(answer.question), AIMessage(answer.text)]
        self._read_line = read_line or (input if interactive else _read_stdin_line)
        self._commands: dict[str, Callable[[str], bool]] = {
            "/exit": lambda _: False,
            "/quit": lambda _: False,
            "/help": self._help,
            "/sources": self._sources,
            "/k": self._set_k,
            "/retry": self._retry,
            "/reset": self._reset,
            "/mode": self._set_mode,
            "/model": self._model,
            "/save": self._save,
            "/collection": self._collection,
        }

    def run(self) -> None:
        """Loop until /exit or end of input."""
        warm_up: threading.Thread | None = None
        if self.interactive:
            # Chosen before the prompt shows, so the line saying which model answers does not
            # land in the middle of the prompt; the model loads while the user types.
            with contextlib.suppress(RagError):
                _ = self.rag.llm_choice
            warm_up = threading.Thread(target=self._warm_up, name="warm-up", daemon=True)
            warm_up.start()
            _enable_line_editing()
            self._say(
                "Ask about your documents. /help for commands; /exit, Ctrl-D or Ctrl-C to leave."
            )
        guarded = self.interactive and threading.current_thread() is threading.main_thread()
        with InterruptGuard() if guarded else contextlib.nullcontext() as guard:
            while True:
                try:
                    with guard.reading() if guard else contextlib.nullcontext():
                        line = self._read_line("rag> " if self.interactive else "")
                except (EOFError, KeyboardInterrupt):
                    break
                if not self.handle(line.strip()):
                    break
        if self.interactive:
            self._say("")
        if warm_up is not None:
            self._wait_for_warm_up(warm_up)

    def _warm_up(self) -> None:
        """Load the answer model while the user types; a failure shows at the first question."""
        with contextlib.suppress(Exception):
            self.rag.warm_up()

    def _wait_for_warm_up(self, warm_up: threading.Thread) -> None:
        """Let a model still loading finish before the process exits (a second Ctrl-C skips it).

        Python's shutdown frees the model and the modules under a thread still loading them,
        which can crash the process at the very end of a clean exit.
        """
        try:
            warm_up.join(timeout=_QUIET_WAIT_SECONDS)
            if warm_up.is_alive():
                self._say("(waiting for the answer model to finish loading; Ctrl-C to skip)")
                warm_up.join(timeout=WARM_UP_WAIT_SECONDS)
        except KeyboardInterrupt:
            return

    def handle(self, line: str) -> bool:
        """Answer a question or run a command; False means leave."""
        if not line:
            return True
        if line.startswith("/"):
            name, _, argument = line.partition(" ")
            command = self._commands.get(name.lower())
            if command is None:
                self._say(f"unknown command {name}; /help lists the commands")
                return True
            return command(argument.strip())
        if not self.interactive and not self.json_lines:
            self._say(f"> {line}")
        try:
            self._answer(line)
        except RagError as error:
            self._say(f"error: {one_line(error)}")
        except KeyboardInterrupt:
            self._say("\n(answer stopped)")
        return True

    def _answer(self, question: str) -> None:
        search = SearchOptions(k=self.k, mode=self.mode, force=self.force)
        stream = self.rag.stream(question, search, history=self.history)
        if self.json_lines:
            answer = stream.answer
        else:
            answer = show_answer(stream, self.out, live=self.live, markdown=self.markdown)
        self.last_answer = answer
        self.transcript.append(answer)
        self.history += [HumanMessage(question), AIMessage(answer.text)]
        if self.log is not None:
            try:
                self.log.append(answer, self.rag.settings.collection)
            except OSError as error:
                self._say(f"warning: cannot save the conversation: {error.strerror or error}")
                self.log = None
        if self.json_lines:
            self._say(json.dumps(answer.to_dict(), ensure_ascii=False))
            return
        if answer.standalone_question != question:
            self._say(f"(searched for: {answer.standalone_question})")
        for line in footer_lines(answer, compact=True):
            self._say(line)

    def _retry(self, _: str) -> bool:
        if self.last_answer is None:
            self._say("nothing to retry yet")
        else:
            self.handle(self.last_answer.question)
        return True

    def _reset(self, _: str) -> bool:
        self.last_answer = None
        self.transcript.clear()
        self.history.clear()
        self._say("conversation cleared")
        return True

    def _set_mode(self, argument: str) -> bool:
        mode = next((known for known in MODES if known == argument), None)
        if mode is None:
            self._say(f"usage: /mode {'|'.join(MODES)} (now {self.mode})")
            return True
        self.mode = mode
        self._say(f"retrieval mode: {self.mode}")
        return True

    def _model(self, _: str) -> bool:
        settings = self.rag.settings
        self._say(
            f"answers: {self.rag.llm_label or 'chosen at the first question'}; "
            f"embeddings: {settings.embed_provider}:{settings.embed_model}; "
            f"retrieval: {self.mode}, k={self.k}"
        )
        return True

    def _save(self, argument: str) -> bool:
        if not argument:
            self._say("usage: /save FILE")
            return True
        path = Path(argument).expanduser()
        try:
            path.write_text(transcript_markdown(self.transcript), encoding="utf-8")
        except OSError as error:
            self._say(f"error: cannot write {path}: {error.strerror or error}")
            return True
        self._say(f"saved {len(self.transcript)} answers to {path}")
        return True

    def _collection(self, argument: str) -> bool:
        if not argument:
            self._say(f"collection: {self.rag.settings.collection} ({self.rag.store.location})")
            return True
        try:
            other = self.rag.with_collection(argument)
            other.index()
        except RagError as error:
            self._say(f"error: {one_line(error)}")
            return True
        self.rag = other
        self._say(f"asking collection {argument} ({other.store.location})")
        return True

    def _help(self, _: str) -> bool:
        self._say(HELP)
        return True

    def _sources(self, _: str) -> bool:
        if self.last_answer is None or not self.last_answer.sources:
            self._say("no sources yet: ask a question first")
            return True
        for number, source in enumerate(self.last_answer.sources, start=1):
            snippet = " ".join(source.text.split())[:160]
            self._say(
                f"[{number}] {source.location} chunk {source.chunk} "
                f"score {source.score:.2f}\n    {snippet}"
            )
        return True

    def _set_k(self, argument: str) -> bool:
        if not argument.isdigit() or not 1 <= int(argument) <= 100:
            self._say("usage: /k N, with N from 1 to 100")
            return True
        self.k = int(argument)
        self._say(f"retrieving {self.k} chunks per question")
        return True

    def _say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()


def transcript_markdown(answers: list[Answer]) -> str:
    """A conversation as Markdown: each question, its answer, sources and evidence."""
    parts = ["# ragkit conversation\n"]
    for answer in answers:
        parts.append(f"## {answer.question}\n\n{answer.text or '(retrieval only)'}\n")
        if answer.sources:
            parts.append("Sources:\n")
            parts.extend(
                f"{n}. {source.location} (chunk {source.chunk}, score {source.score:.2f})"
                for n, source in enumerate(answer.sources, start=1)
            )
            parts.append("")
        for item in answer.evidence:
            parts.append(f"> {item.text} — [{item.source_number}] {item.location}\n")
    return "\n".join(parts).rstrip() + "\n"


def _read_stdin_line(_: str) -> str:
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line


@dataclass(frozen=True)
class OpenedConversation:
    """A conversation to continue (or a new one): where it is kept and what it said."""

    id: str
    log: ConversationLog | None
    resumed: list[Answer]
    collection: str


def open_conversation(resume: bool, conversation_id: str | None, save: bool) -> OpenedConversation:
    """A new conversation, or the saved one ``--resume [ID]`` names (``NotInIndexError``)."""
    from app.cli.conversations import ConversationLog, answers_of, find_conversation, read_turns
    from app.config.paths import chats_dir

    folder = chats_dir()
    if not resume:
        log = ConversationLog(folder)
        return OpenedConversation(log.id, log if save else None, [], "")
    path = find_conversation(folder, conversation_id)
    turns = read_turns(path)
    log = ConversationLog(folder, path.stem)
    collection = str(turns[-1].get("collection", "")) if turns else ""
    return OpenedConversation(log.id, log if save else None, answers_of(turns), collection)


def conversation_table() -> list[str]:
    """The lines of ``rag chat --list``: id, when, collection, answers, first question."""
    from app.cli.conversations import list_conversations
    from app.cli.display import table_lines
    from app.config.paths import chats_dir

    found = list_conversations(chats_dir())
    if not found:
        return ["No saved conversations yet: `rag chat` keeps each one."]
    rows = [("id", "started", "collection", "answers", "first question")]
    for info in found:
        question = (
            info.first_question
            if len(info.first_question) <= 60
            else info.first_question[:59] + "…"
        )
        rows.append((info.id, info.started_at, info.collection, str(info.turns), question))
    return table_lines(rows)


def history_file() -> Path:
    """Where the REPL keeps its input history: the user's data folder."""
    from app.config.paths import user_data_dir

    return user_data_dir() / "chat_history"


def _enable_line_editing() -> None:
    """Line editing for input(), with history kept across sessions."""
    try:
        import readline
    except ImportError:
        return
    path = history_file()
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            readline.read_history_file(path)
    readline.set_history_length(1000)

    def save() -> None:
        with contextlib.suppress(OSError):
            readline.write_history_file(path)

    atexit.register(save)
