"""The README's agent example: a LangChain agent given ``Rag.as_tool()`` answers from data/.

The chat model is a scripted fake that calls tools: it asks ragkit's tool first, then
answers with the passage the tool returned, so the answer can only be right if the tool ran.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from pydantic import Field

from app import Rag

pytestmark = pytest.mark.integration

QUESTION = "What port does Ollama listen on?"


class ToolCallingChatModel(BaseChatModel):
    """Calls the first bound tool with the user's question, then answers from its result.

    The answer quotes the sentence of the tool's passages that names a port, with the
    source the tool gave for it.
    """

    bound_tools: list[str] = Field(default_factory=list)
    calls: list[list[BaseMessage]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "tool-calling-fake"

    def bind_tools(
        self, tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool], **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        names = [tool.name if isinstance(tool, BaseTool) else str(tool) for tool in tools]
        return self.model_copy(update={"bound_tools": names})

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.calls.append(list(messages))
        last = messages[-1]
        if not isinstance(last, ToolMessage):
            call = {"name": self.bound_tools[0], "args": {"query": last.text}, "id": "call-1"}
            message = AIMessage(content="", tool_calls=[call])
        else:
            message = AIMessage(content=answer_from(last.text))
        return ChatResult(generations=[ChatGeneration(message=message)])


def answer_from(passages: str) -> str:
    """The first sentence about a port in the tool's passages, with the passage's source."""
    source = ""
    for line in passages.splitlines():
        if header := re.match(r"\[\d+\] ([^,]+),", line):
            source = header.group(1)
            continue
        for sentence in re.split(r"(?<=\.)\s+", line):
            if " port " in sentence:
                return f"{sentence.strip()} (source: {source})"
    return "The documents do not say."


def test_an_agent_answers_from_data_by_calling_the_ragkit_tool(sample_index: Path) -> None:
    rag = Rag.from_settings(index_dir=sample_index, llm_provider="none")
    model = ToolCallingChatModel()
    agent = create_agent(model, tools=[rag.as_tool()])
    result = agent.invoke({"messages": [{"role": "user", "content": QUESTION}]})
    messages = result["messages"]
    tool_messages = [m for m in messages if isinstance(m, ToolMessage)]
    assert [m.name for m in tool_messages] == ["search_documents"]
    assert "ollama-notes.md" in tool_messages[0].text
    answer = messages[-1].text
    assert "11434" in answer
    assert answer.endswith("(source: ollama-notes.md)")
