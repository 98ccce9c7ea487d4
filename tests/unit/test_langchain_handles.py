"""Rag.as_retriever, as_tool and as_chain compose with other LangChain runnables."""

from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import BaseTool

from app import Answer, Rag
from app.errors import UsageError
from tests.unit.conftest import (
    BACKUP_REPLY,
    PORT_REPLY,
    SAMPLE_FILES,
    ScriptedChatModel,
    write_files,
)

BACKUP_TEXT = "The backup runs nightly at 02:30 and copies the home folder to the NAS."


@pytest.fixture
def rag(tmp_path: Path, fake_models: ScriptedChatModel) -> Rag:
    instance = Rag.from_settings(min_score=-1.0, chunk_context="none")
    instance.ingest(write_files(tmp_path / "docs", SAMPLE_FILES))
    return instance


def test_as_retriever_composes_and_keeps_its_search_options(rag: Rag) -> None:
    retriever = rag.as_retriever(k=1, mode="dense")
    assert isinstance(retriever, BaseRetriever)
    sources = retriever | RunnableLambda(lambda docs: [doc.metadata["source"] for doc in docs])
    assert sources.invoke(BACKUP_TEXT) == ["backup.txt"]
    only_html = rag.as_retriever(k=5, source_glob="notes/*").invoke(BACKUP_TEXT)
    assert {doc.metadata["source"] for doc in only_html} == {"notes/page.html"}


def test_as_retriever_sees_a_later_ingest(rag: Rag, tmp_path: Path) -> None:
    retriever = rag.as_retriever(k=100)
    before = len(retriever.invoke("anything"))
    rag.ingest(write_files(tmp_path / "more", {"gpu.md": "A document about GPUs."}))
    assert len(retriever.invoke("anything")) == before + 1


def test_as_retriever_refuses_bad_options_at_once(rag: Rag) -> None:
    with pytest.raises(UsageError, match="k must be"):
        rag.as_retriever(k=0)
    with pytest.raises(UsageError, match="unknown search option"):
        rag.as_retriever(top=3)


def test_as_tool_returns_passages_with_sources_and_the_documents(rag: Rag) -> None:
    tool = rag.as_tool()
    assert isinstance(tool, BaseTool)
    assert tool.name == "search_documents"
    assert "query" in tool.args
    call = {"name": tool.name, "args": {"query": BACKUP_TEXT}, "id": "call-1", "type": "tool_call"}
    message = tool.invoke(call)
    assert isinstance(message, ToolMessage)
    assert message.content.startswith("[1] backup.txt, chunk ")
    assert BACKUP_TEXT in message.content
    assert all(isinstance(doc, Document) for doc in message.artifact)
    assert message.artifact[0].metadata["source"] == "backup.txt"


def test_as_tool_takes_a_name_and_description_and_composes(rag: Rag) -> None:
    tool = rag.as_tool(name="notes", description="Search my notes.")
    assert (tool.name, tool.description) == ("notes", "Search my notes.")
    pipeline = RunnableLambda(lambda question: {"query": question}) | tool
    assert "backup.txt" in pipeline.invoke(BACKUP_TEXT)


def test_as_chain_answers_a_question_or_a_mapping_with_history(
    rag: Rag, fake_models: ScriptedChatModel
) -> None:
    chain = rag.as_chain()
    answer = chain.invoke("When does the backup run?")
    assert isinstance(answer, Answer)
    assert answer.text == BACKUP_REPLY
    assert answer.sources
    fake_models.rewrites["port"] = "Which port does Ollama listen on?"
    follow_up = chain.invoke(
        {
            "question": "And which port?",
            "history": [HumanMessage("What is Ollama?"), AIMessage("A model server.")],
        }
    )
    assert follow_up.standalone_question == "Which port does Ollama listen on?"
    assert follow_up.text == PORT_REPLY


def test_as_chain_composes_with_other_runnables(rag: Rag) -> None:
    texts = (
        RunnableLambda(lambda topic: f"When does the {topic} run?")
        | rag.as_chain()
        | RunnableLambda(lambda answer: answer.text)
    )
    assert texts.invoke("backup") == BACKUP_REPLY
    assert texts.batch(["backup", "backup"]) == [BACKUP_REPLY, BACKUP_REPLY]


def test_as_chain_refuses_input_it_cannot_read(rag: Rag) -> None:
    with pytest.raises(UsageError, match="takes a question"):
        rag.as_chain().invoke({"q": "no question key"})
