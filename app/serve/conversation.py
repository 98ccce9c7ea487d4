"""Chat messages from a request as the history ``Rag.stream`` takes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage


def message_text(content: str | list[dict[str, Any]] | None) -> str:
    """The text of a message: a string, or OpenAI's list of ``{"type": "text", "text"}`` parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(str(part.get("text", "")) for part in content if part.get("type") == "text")


def history_of(turns: Iterable[tuple[str, str]]) -> list[BaseMessage]:
    """(role, text) pairs as LangChain messages: user and assistant turns only."""
    from langchain_core.messages import AIMessage, HumanMessage

    messages: list[BaseMessage] = []
    for role, text in turns:
        if not text.strip():
            continue
        if role == "user":
            messages.append(HumanMessage(text))
        elif role == "assistant":
            messages.append(AIMessage(text))
    return messages
