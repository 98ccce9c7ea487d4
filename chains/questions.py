"""A chain that writes one question a passage answers (training data for ``rag tune``)."""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable

QUESTION_PROMPT = ChatPromptTemplate.from_messages(
    [
        (
            "system",
            "You write search questions. Given a passage, write one question that a person "
            "would type to find it and that the passage answers. Reply with the question only.",
        ),
        ("human", "Passage:\n{passage}"),
    ]
)


WRITER_SETTINGS = {"temperature": 0.0, "repeat_penalty": 1.0, "max_tokens": 64, "num_predict": 64}
"""Greedy, no repeat penalty (a question repeats the passage's terms: a penalty misspells
them), one short line: applied to the fields the chat model has."""


def build_question_chain(llm: BaseChatModel) -> Runnable[dict[str, str], str]:
    """``{"passage": text}`` -> one question, stripped of quotes and labels."""
    return QUESTION_PROMPT | question_writer(llm) | StrOutputParser() | clean_question


def question_writer(llm: BaseChatModel) -> BaseChatModel:
    """A copy of ``llm`` with the writer's sampling settings, for the fields it has."""
    fields = type(llm).model_fields
    return llm.model_copy(
        update={name: value for name, value in WRITER_SETTINGS.items() if name in fields}
    )


def clean_question(text: str) -> str:
    """The first line of a reply, without a "Question:" label or surrounding quotes."""
    line = next((part.strip() for part in text.strip().splitlines() if part.strip()), "")
    if line.lower().startswith("question:"):
        line = line.split(":", 1)[1].strip()
    return line.strip("\"'` ")
