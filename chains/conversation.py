"""Follow-up questions: rewrite them into standalone questions, answer with recent turns.

The rewrite runs only when there is history; retrieval uses the standalone question; the
answer prompt sees the recent turns, trimmed to a token budget.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from operator import itemgetter
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, trim_messages
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import (
    Runnable,
    RunnableBranch,
    RunnableLambda,
    RunnablePassthrough,
)

from chains.prompts import SYSTEM_PROMPT, USER_PROMPT
from chains.qa import (
    FULL_STYLE,
    AnswerStyle,
    answer_unless_nothing_relevant,
    build_answer_chain,
    relevant_of,
)

HISTORY_TOKEN_BUDGET = 1000

REWRITE_PROMPT = ChatPromptTemplate.from_messages(
    [
        (
            "system",
            "Rewrite the user's last question so that it can be understood without the "
            "conversation: replace pronouns and references with what they mean. Keep its "
            "language. Reply with the rewritten question only.",
        ),
        MessagesPlaceholder("history"),
        ("human", "{question}"),
    ]
)

CONVERSATION_PROMPT = ChatPromptTemplate.from_messages(
    [("system", SYSTEM_PROMPT), MessagesPlaceholder("history"), ("human", USER_PROMPT)]
)


def approximate_tokens(messages: Sequence[BaseMessage]) -> int:
    """About four characters a token: close enough to keep the history within budget."""
    return sum(len(message.text) // 4 + 4 for message in messages)


def recent_turns(history: Sequence[BaseMessage], budget: int = HISTORY_TOKEN_BUDGET) -> Any:
    """The latest messages that fit the token budget, starting with a user turn."""
    return trim_messages(
        list(history),
        max_tokens=budget,
        token_counter=approximate_tokens,
        strategy="last",
        start_on="human",
        allow_partial=False,
    )


def first_line(text: str) -> str:
    """The rewritten question: the first non-empty line, without quotes."""
    for line in text.splitlines():
        if line.strip():
            return line.strip().strip('"').strip()
    return ""


_DEPENDENT = re.compile(
    r"^\s*(and|or|but|so|also|then|what about|how about)\b"
    r"|\b(it|its|it's|that|this|these|those|they|them|their|there|he|she|him|her)\b",
    re.IGNORECASE,
)


def depends_on_earlier_turns(question: str) -> bool:
    """Whether a follow-up needs the conversation to be understood.

    It does when it starts with "and", "what about", ... or points back with a pronoun
    ("how do I change it?").
    """
    return _DEPENDENT.search(question) is not None


def with_previous_question(inputs: dict[str, Any]) -> str:
    """The last user question followed by a follow-up that needs it: a rewrite without a model.

    A question that stands on its own ("When do backups run?") is kept as it is.
    """
    question = str(inputs["question"])
    previous = [message.text for message in inputs["history"] if message.type == "human"]
    if not previous or not depends_on_earlier_turns(question):
        return question
    return f"{previous[-1]} {question}"


def build_condense_chain(
    llm: BaseChatModel, rewrite_with_llm: bool = True
) -> Runnable[dict[str, Any], str]:
    """``{question, history}`` -> a standalone question (the question itself without history).

    Tiny models rewrite badly (they drop the subject), so they get the previous question
    prepended instead (``rewrite_with_llm=False``).
    """
    rewrite: Runnable[dict[str, Any], str] = (
        RunnablePassthrough.assign(history=lambda x: recent_turns(x["history"]))
        | REWRITE_PROMPT
        | llm
        | StrOutputParser()
        | RunnableLambda(first_line)
        if rewrite_with_llm
        else RunnableLambda(with_previous_question)
    )
    return RunnableBranch((lambda x: not x["history"], itemgetter("question")), rewrite)


def build_conversational_chain(
    retriever: BaseRetriever,
    llm: BaseChatModel,
    *,
    min_score: float = 0.0,
    style: AnswerStyle = FULL_STYLE,
) -> Runnable[dict[str, Any], dict[str, Any]]:
    """``{question, history}`` -> ``{question, history, standalone, docs, answer}``.

    A ``style`` for a small model neither rewrites the question (the previous one is
    prepended) nor sees the earlier turns: tiny models copy their last answer instead.
    """
    small_model = style.small_model
    if not small_model:
        style = replace(style, prompt=CONVERSATION_PROMPT)

    def answer_inputs(inputs: dict[str, Any]) -> dict[str, Any]:
        return {
            "docs": inputs["docs"],
            "question": inputs["standalone"],
            "history": [] if small_model else recent_turns(inputs["history"]),
        }

    answer = RunnableLambda(answer_inputs) | build_answer_chain(llm, style)
    return (
        RunnablePassthrough.assign(
            standalone=build_condense_chain(llm, rewrite_with_llm=not small_model)
        )
        | RunnablePassthrough.assign(retrieved=itemgetter("standalone") | retriever)
        | RunnablePassthrough.assign(docs=relevant_of(min_score))
        | RunnablePassthrough.assign(answer=answer_unless_nothing_relevant(answer))
    )
