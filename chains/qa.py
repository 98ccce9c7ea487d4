"""The answer chain: retrieve, keep what is relevant, then ``prompt | llm | StrOutputParser``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import BasePromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import (
    Runnable,
    RunnableBranch,
    RunnableLambda,
    RunnableParallel,
    RunnablePassthrough,
)

from chains.evidence import SentenceScorer, candidate_sentences, word_overlap
from chains.prompts import QA_PROMPT

NOT_COVERED = "Your documents do not seem to cover this question: no passage is close enough to it."


def source_label(metadata: dict[str, Any]) -> str:
    """``file``, ``file, page N`` or ``file, slide N`` (the page's own label), then the section.

    E.g. ``guide.md, Guide > Installation > Windows`` or ``deck.pptx, slide 2``.
    """
    source = str(metadata.get("source", "unknown"))
    page = metadata.get("page")
    label = metadata.get("page_label") or (f"page {page}" if page is not None else None)
    parts = [source, label, metadata.get("section")]
    return ", ".join(str(part) for part in parts if part)


def format_docs(docs: Sequence[Document], with_labels: bool = True) -> str:
    """Number the sources ``[1]``, ``[2]`` ... with where each comes from (``with_labels``)."""
    return "\n\n".join(
        f"[{number}] {source_label(doc.metadata)}\n{doc.page_content.strip()}"
        if with_labels
        else f"[{number}] {doc.page_content.strip()}"
        for number, doc in enumerate(docs, start=1)
    )


@dataclass(frozen=True)
class AnswerStyle:
    """How the answer model is prompted: the prompt, and how much of each chunk it reads.

    ``sentences_per_chunk`` > 0 hands the model only that many sentences of each chunk, the
    ones ``scorer`` rates best for the question (in their original order); 0 keeps whole
    chunks. ``source_labels`` names each source's file (a tiny model copies file names
    into its answers). ``small_model`` also means: no rewriting of follow-ups, no earlier
    turns.
    """

    prompt: BasePromptTemplate[Any] = field(default_factory=lambda: QA_PROMPT)
    sentences_per_chunk: int = 0
    scorer: SentenceScorer = field(default=word_overlap)
    small_model: bool = False
    source_labels: bool = True


FULL_STYLE = AnswerStyle()
"""Whole chunks and the full prompt with citations: for any model that is not tiny."""


def focus_docs(
    question: str, docs: Sequence[Document], sentences_per_chunk: int, scorer: SentenceScorer
) -> list[Document]:
    """Each chunk cut down to its ``sentences_per_chunk`` best sentences, in text order."""
    focused = []
    for doc in docs:
        spans = candidate_sentences(doc.page_content)
        texts = [doc.page_content[start:end] for start, end in spans]
        scores = scorer(question, texts) if texts else []
        best = sorted(range(len(spans)), key=lambda i: -scores[i])[:sentences_per_chunk]
        kept = " ".join(" ".join(texts[i].split()) for i in sorted(best))
        focused.append(Document(page_content=kept or doc.page_content, metadata=doc.metadata))
    return focused


def context_of(style: AnswerStyle) -> Runnable[dict[str, Any], str]:
    """The numbered sources of the chain inputs, focused on the question when the style says."""

    def context(inputs: dict[str, Any]) -> str:
        docs = inputs["docs"]
        if style.sentences_per_chunk > 0:
            docs = focus_docs(inputs["question"], docs, style.sentences_per_chunk, style.scorer)
        return format_docs(docs, style.source_labels)

    return RunnableLambda(context)


def keep_relevant(docs: Sequence[Document], min_score: float) -> list[Document]:
    """Keep chunks close enough in meaning (``score`` >= ``min_score``) or in words.

    ``lexical_match`` (most query words occur in the chunk) rescues text the embedding
    model cannot read, such as Chinese under an English model. Unscored chunks stay.
    """
    return [
        doc
        for doc in docs
        if float(doc.metadata.get("score", 1.0)) >= min_score or doc.metadata.get("lexical_match")
    ]


def history_of(inputs: dict[str, Any]) -> list[Any]:
    """The chat history of the chain inputs (none for a single question)."""
    return list(inputs.get("history", []))


def build_answer_chain(
    llm: BaseChatModel, style: AnswerStyle = FULL_STYLE
) -> Runnable[dict[str, Any], str]:
    """``{question, docs}`` -> answer text, the LCEL ``prompt | llm | StrOutputParser``."""
    inputs = RunnableParallel(
        context=context_of(style),
        question=itemgetter("question"),
        history=RunnableLambda(history_of),
    )
    return inputs | style.prompt | llm | StrOutputParser()


def answer_unless_nothing_relevant(
    answer: Runnable[dict[str, Any], str],
) -> Runnable[dict[str, Any], str]:
    """Run ``answer`` when there are relevant docs; else say the documents do not cover it."""
    return RunnableBranch(
        (lambda inputs: not inputs["docs"], RunnableLambda(lambda _: NOT_COVERED)),
        answer,
    )


def build_qa_chain(
    retriever: BaseRetriever,
    llm: BaseChatModel,
    *,
    min_score: float = 0.0,
    style: AnswerStyle = FULL_STYLE,
) -> Runnable[str, dict[str, Any]]:
    """Question -> ``{"question", "retrieved", "docs", "answer"}``.

    "docs" are the relevant retrieved chunks, the sources the answer used. When none is
    relevant the LLM is not called and the answer says so.
    """
    retrieve = RunnableParallel(question=RunnablePassthrough(), retrieved=retriever)
    answer = answer_unless_nothing_relevant(build_answer_chain(llm, style))
    return (
        retrieve
        | RunnablePassthrough.assign(docs=relevant_of(min_score))
        | RunnablePassthrough.assign(answer=answer)
    )


def relevant_of(min_score: float) -> Runnable[dict[str, Any], list[Document]]:
    """Picks the relevant chunks out of the chain state's "retrieved" ones."""
    return RunnableLambda(lambda state: keep_relevant(state["retrieved"], min_score))
