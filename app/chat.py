"""The chat REPL: one question a line; slash commands; survives an error in one question."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from app.errors import RagError

if TYPE_CHECKING:
    from app.answers import Answer
    from app.api import Rag

HELP = """Type a question and press Enter. Commands:
  /sources   show the sources of the last answer
  /k N       retrieve N chunks per question
  /help      this help
  /exit      leave (Ctrl-D works too)"""


class ChatSession:
    """Reads questions from a terminal (with line editing) or from piped input."""

    def __init__(
        self,
        rag: Rag,
        *,
        interactive: bool,
        read_line: Callable[[str], str] | None = None,
        out: TextIO | None = None,
    ) -> None:
        """Answer with ``rag``; ``read_line`` defaults to ``input`` (terminal) or stdin."""
        self.rag = rag
        self.interactive = interactive
        self.out = out or sys.stdout
        self.k = rag.settings.top_k
        self.last_answer: Answer | None = None
        self._read_line = read_line or (input if interactive else _read_stdin_line)
        self._commands: dict[str, Callable[[str], bool]] = {
            "/exit": lambda _: False,
            "/quit": lambda _: False,
            "/help": self._help,
            "/sources": self._sources,
            "/k": self._set_k,
        }

    def run(self) -> None:
        """Loop until /exit or end of input."""
        if self.interactive:
            _enable_line_editing()
            self._say("Ask about your documents. /help for commands, /exit or Ctrl-D to leave.")
        while True:
            try:
                line = self._read_line("rag> " if self.interactive else "")
            except EOFError:
                break
            except KeyboardInterrupt:
                self._say("\n(/exit or Ctrl-D to leave)")
                continue
            if not self.handle(line.strip()):
                break
        if self.interactive:
            self._say("")

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
        if not self.interactive:
            self._say(f"> {line}")
        try:
            self._answer(line)
        except RagError as error:
            self._say(f"error: {error}")
        except KeyboardInterrupt:
            self._say("\n(answer stopped)")
        return True

    def _answer(self, question: str) -> None:
        stream = self.rag.stream(question, self.k)
        for piece in stream:
            self.out.write(piece)
            self.out.flush()
        answer = stream.answer
        self.last_answer = answer
        if answer.text:
            self.out.write("\n")
        cited = ", ".join(
            f"[{n}] {source.location}" for n, source in enumerate(answer.sources, start=1)
        )
        self._say(f"Sources: {cited}" if cited else "")
        for item in answer.evidence[:1]:
            self._say(f"Evidence [{item.source_number}] {item.location}: {item.text}")

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


def _read_stdin_line(_: str) -> str:
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line


def _enable_line_editing() -> None:
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401  (importing it gives input() line editing)
