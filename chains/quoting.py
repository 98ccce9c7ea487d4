"""The chain of a quoted answer: retrieve, keep what is relevant; no answer model is called.

The answer is then a sentence of the relevant chunks (``chains.grounding``). A follow-up in
a chat borrows the previous question when it points back to it, as for small models.
"""

from __future__ import annotations

from typing import Any

from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableLambda, RunnablePassthrough

from chains.conversation import with_previous_question
from chains.qa import NOT_COVERED, relevant_of


def build_quote_chain(
    retriever: BaseRetriever, *, min_score: float = 0.0
) -> Runnable[dict[str, Any], dict[str, Any]]:
    """``{question, history}`` -> ``{..., standalone, retrieved, docs, answer}``.

    "answer" says the documents do not cover the question when no chunk is relevant, and is
    empty otherwise (the quote is chosen from "docs").
    """
    return (
        RunnablePassthrough.assign(standalone=RunnableLambda(with_previous_question))
        | RunnablePassthrough.assign(
            retrieved=RunnableLambda(lambda state: state["standalone"]) | retriever
        )
        | RunnablePassthrough.assign(docs=relevant_of(min_score))
        | RunnablePassthrough.assign(
            answer=RunnableLambda(lambda state: "" if state["docs"] else NOT_COVERED)
        )
    )
