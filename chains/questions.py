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


def build_question_chain(llm: BaseChatModel) -> Runnable[dict[str, str], str]:
    """``{"passage": text}`` -> one question, stripped of quotes and labels."""
    return QUESTION_PROMPT | llm | StrOutputParser() | clean_question


def clean_question(text: str) -> str:
    """The first line of a reply, without a "Question:" label or surrounding quotes."""
    line = next((part.strip() for part in text.strip().splitlines() if part.strip()), "")
    if line.lower().startswith("question:"):
        line = line.split(":", 1)[1].strip()
    return line.strip("\"'` ")
