import dataclasses
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from app import Answer, Rag, Source
from app.answers import SearchOptions
from app.cli.chat import ChatSession
from app.config.paths import collections_dir
from app.config.settings import load_settings
from app.errors import ProviderError, UsageError
from app.ingestion.run import IngestOptions
from chains.prompts import SMALL_SYSTEM_PROMPT, SYSTEM_PROMPT
from retrievers.modes import MODES
from tests.unit.conftest import (
    BACKUP_REPLY,
    SAMPLE_FILES,
    ScriptedChatModel,
    write_files,
)


@pytest.fixture
def rag(tmp_path: Path, fake_models: ScriptedChatModel) -> Rag:
    instance = Rag.from_settings(min_score=-1.0, chunk_context="none")
    instance.ingest(write_files(tmp_path / "docs", SAMPLE_FILES))
    return instance


def test_ask_returns_a_frozen_answer_with_sources(rag: Rag, fake_models: ScriptedChatModel) -> None:
    answer = rag.ask("When does the backup run?", k=2)
    assert isinstance(answer, Answer)
    assert answer.text == BACKUP_REPLY
    assert fake_models.questions == ["When does the backup run?"]
    assert len(answer.sources) == 2
    assert all(isinstance(source, Source) for source in answer.sources)
    with pytest.raises(dataclasses.FrozenInstanceError):
        answer.text = "changed"  # type: ignore[misc]


def test_retrieve_is_ordered_by_score(rag: Rag) -> None:
    sources = rag.retrieve(
        "The backup runs nightly at 02:30 and copies the home folder to the NAS."
    )
    assert sources[0].source == "backup.txt"
    assert sources[0].score == pytest.approx(1.0, abs=1e-4)
    dense = rag.retriever(mode="dense").invoke("backup")
    scores = [doc.metadata["score"] for doc in dense]
    assert scores == sorted(scores, reverse=True)


def test_stream_yields_pieces_and_keeps_the_answer(rag: Rag) -> None:
    stream = rag.stream("When does the backup run?")
    pieces = list(stream)
    assert len(pieces) > 1
    assert stream.answer.text == "".join(pieces) == BACKUP_REPLY
    assert stream.answer.sources


def test_a_new_ingest_is_seen_without_restarting(rag: Rag, tmp_path: Path) -> None:
    before = len(rag.retrieve("x", k=100))
    rag.ingest(write_files(tmp_path / "more", {"extra.md": "Extra document about GPUs."}))
    assert len(rag.retrieve("x", k=100)) == before + 1


def test_chat_session_keeps_going_after_an_error(rag: Rag) -> None:
    class Broken(ScriptedChatModel):
        def record(self, messages: object) -> None:
            raise ConnectionError("connection refused")

    broken = Rag(rag.settings, embeddings=rag.embeddings, llm=Broken(replies={}))
    lines = iter(["When does the backup run?", "/help", "Which port does Ollama use?"])
    out: list[str] = []

    class Sink:
        def write(self, text: str) -> None:
            out.append(text)

        def flush(self) -> None:
            pass

    def read(_: str) -> str:
        try:
            return next(lines)
        except StopIteration:
            raise EOFError from None

    ChatSession(broken, interactive=False, read_line=read, out=Sink()).run()  # type: ignore[arg-type]
    text = "".join(out)
    assert text.count("error: the answer model custom:Broken failed: connection refused") == 2
    assert "/sources" in text


def test_connection_errors_become_provider_errors(rag: Rag) -> None:
    class Refusing(ScriptedChatModel):
        def record(self, messages: object) -> None:
            raise ConnectionError("refused")

    refusing = Rag(rag.settings, embeddings=rag.embeddings, llm=Refusing(replies={}))
    with pytest.raises(ProviderError, match="failed: refused"):
        refusing.ask("When does the backup run?")


def test_citations_to_sources_that_were_not_retrieved_are_removed(rag: Rag) -> None:
    liar = ScriptedChatModel(replies={"backup": "Backups run at 02:30 [1], says source [9]."})
    answer = Rag(rag.settings, embeddings=rag.embeddings, llm=liar).ask(
        "When does the backup run?", k=2
    )
    assert answer.text == "Backups run at 02:30 [1], says source."
    assert answer.cited == (1,)
    assert answer.removed_citations == (9,)


def test_an_answer_without_citations_cites_its_evidence(rag: Rag) -> None:
    silent = ScriptedChatModel(replies={"backup": "It runs every night."})
    answer = Rag(rag.settings, embeddings=rag.embeddings, llm=silent).ask(
        "When does the backup run?", k=3
    )
    assert answer.evidence
    assert answer.cited == tuple(sorted({item.source_number for item in answer.evidence}))
    assert all(1 <= number <= len(answer.sources) for number in answer.cited)


def test_a_follow_up_is_rewritten_and_retrieval_uses_the_rewrite(rag: Rag) -> None:
    standalone = "Start the service with `ollama serve`."
    llm = ScriptedChatModel(
        replies={
            "what port": "Ollama listens on 11434 [1].",
            "start the service": "Run ollama serve [1].",
        },
        rewrites={"and how is it started": standalone},
    )
    talk = Rag(rag.settings, embeddings=rag.embeddings, llm=llm)
    session = ChatSession(
        talk,
        interactive=False,
        read_line=_lines("What port does Ollama use?", "and how is it started?"),
        out=_Sink(),
    )
    session.run()
    first, second = session.transcript
    assert first.standalone_question == "What port does Ollama use?"
    assert second.standalone_question == standalone
    assert llm.questions == [
        "What port does Ollama use?",
        "and how is it started?",
        standalone,
    ]
    assert second.text == "Run ollama serve [1]."
    rewrite_call, answer_call = llm.calls[1], llm.calls[2]
    assert "Rewrite the user's last question" in rewrite_call[0].text
    assert [m.text for m in rewrite_call[1:3]] == [
        "What port does Ollama use?",
        "Ollama listens on 11434 [1].",
    ]
    assert rewrite_call[-1].text == "and how is it started?"
    assert answer_call[-1].text.endswith(f"Question: {standalone}")
    assert [m.type for m in answer_call] == ["system", "human", "ai", "human"]
    assert second.sources[0].source == "ollama.md"  # found by the rewritten question
    session.handle("/reset")
    assert session.history == []


class _Sink:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def _lines(*lines: str):  # type: ignore[no-untyped-def]
    queue = list(lines)

    def read(_: str) -> str:
        if not queue:
            raise EOFError
        return queue.pop(0)

    return read


def test_ctrl_c_at_the_prompt_waits_for_the_model_still_loading(
    rag: Rag, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Leaving while the warm-up thread loads the model would let shutdown free it mid-load."""
    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    def slow_warm_up() -> None:
        started.set()
        release.wait(timeout=30)
        finished.set()

    def leave(_: str) -> str:
        assert started.wait(timeout=30)
        threading.Timer(1.0, release.set).start()  # after the quiet half second
        raise KeyboardInterrupt

    monkeypatch.setattr(rag, "warm_up", slow_warm_up)
    out = _Sink()
    ChatSession(rag, interactive=True, read_line=leave, out=out).run()  # type: ignore[arg-type]
    assert finished.is_set()
    assert "waiting for the answer model to finish loading" in "".join(out.parts)


def test_without_llm_rewriting_the_previous_question_carries_the_subject() -> None:
    from langchain_core.messages import AIMessage, HumanMessage

    from chains.conversation import with_previous_question

    history = [HumanMessage("When do backups run?"), AIMessage("At 02:30.")]
    inputs = {"question": "and where do they go?", "history": history}
    assert with_previous_question(inputs) == "When do backups run? and where do they go?"
    assert with_previous_question({"question": "q", "history": []}) == "q"


def test_each_cited_source_comes_with_its_best_sentence(rag: Rag) -> None:
    llm = ScriptedChatModel(replies={"backup": "It runs at 02:30 [1][2][3]."})
    answer = Rag(rag.settings, embeddings=rag.embeddings, llm=llm).ask(
        "When does the backup run nightly?", k=3
    )
    assert answer.cited == (1, 2, 3)
    by_number = {quote.source_number: quote for quote in answer.cited_quotes}
    for number, quote in by_number.items():
        assert quote.source == answer.sources[number - 1].source
        assert quote.text in answer.sources[number - 1].text
    backup = next(n for n, s in enumerate(answer.sources, start=1) if s.source == "backup.txt")
    assert "nightly at 02:30" in by_number[backup].text


def test_a_small_model_gets_the_small_prompt_and_focused_sources(
    tmp_path: Path, fake_models: ScriptedChatModel
) -> None:
    rag = Rag.from_settings(min_score=-1.0, chunk_context="none", llm_prompt="small")
    rag.ingest(write_files(tmp_path / "docs", SAMPLE_FILES))
    answer = rag.ask("When does the backup run?", k=2)
    # A small model's answer is the sentence of the sources, with the short answer in it.
    assert answer.kind == "quoted"
    assert answer.text == (
        "The backup runs nightly at 02:30 and copies the home folder to the NAS."
    )
    assert answer.short_answer == "02:30"
    assert answer.marked_text.startswith("The backup runs nightly at **02:30** and")
    assert answer.quote is not None and answer.quote.source == "backup.txt"
    assert answer.supported_share == 1.0
    assert fake_models.calls == []  # a quote needs no answer model
    writing = Rag.from_settings(
        min_score=-1.0, chunk_context="none", llm_prompt="small", answer_mode="generate"
    )
    answer = writing.ask("When does the backup run?", k=2)
    system, user = fake_models.calls[-1]
    assert system.content == SMALL_SYSTEM_PROMPT
    assert answer.evidence
    assert answer.evidence[0].text in user.content
    full = Rag.from_settings(min_score=-1.0, chunk_context="none", llm_prompt="full")
    full.ask("When does the backup run?", k=2)
    assert fake_models.calls[-1][0].content == SYSTEM_PROMPT


def test_rebuild_given_with_options_overrides_theirs(rag: Rag, tmp_path: Path) -> None:
    sample = {"ollama.md", "backup.txt", "notes/page.html"}
    other = write_files(tmp_path / "other", {"gpu.md": "The GPU box has 24 GB of memory."})
    rag.ingest(other, options=IngestOptions(rebuild=True), rebuild=False)
    assert {source.source for source in rag.retrieve("memory", k=100)} == {*sample, "gpu.md"}
    report = rag.ingest(other, options=IngestOptions(), rebuild=True)
    assert (report.total_files, report.files_added) == (1, 1)
    assert {source.source for source in rag.retrieve("memory", k=100)} == {"gpu.md"}
    status = rag.status()
    assert status.files == 1
    assert status.index_dir == rag.store.location == str(collections_dir() / "default")


def test_an_unknown_search_option_is_a_usage_error(
    rag: Rag, fake_models: ScriptedChatModel
) -> None:
    with pytest.raises(UsageError, match="unknown search option"):
        rag.retrieve("When does the backup run?", top_k=2)
    known = "use force, k, mmr, mode, source_glob"
    with pytest.raises(UsageError, match=re.escape(f"unknown search option(s) top_k; {known}")):
        rag.ask("When does the backup run?", top_k=2)
    with pytest.raises(UsageError, match="unknown search option"):
        rag.retriever(glob="*.md")
    assert fake_models.calls == []


@pytest.mark.parametrize("k", [0, -3, "2", 2.5])
def test_k_below_1_or_not_whole_is_a_usage_error(
    rag: Rag, fake_models: ScriptedChatModel, k: object
) -> None:
    expected = rf"k must be a whole number of at least 1; got {re.escape(repr(k))}"
    with pytest.raises(UsageError, match=expected):
        rag.retrieve("When does the backup run?", k=k)
    with pytest.raises(UsageError, match=expected):
        rag.stream("When does the backup run?", k=k)
    with pytest.raises(UsageError, match=expected):
        SearchOptions(k=k)  # type: ignore[arg-type]
    assert fake_models.calls == []
    assert len(rag.retrieve("When does the backup run?", k=1000)) == 3  # as many as there are
    assert len(rag.retrieve("When does the backup run?", k=1)) == 1


def test_an_unknown_mode_is_a_usage_error(rag: Rag, fake_models: ScriptedChatModel) -> None:
    expected = "mode must be one of hybrid, dense, bm25; got 'fuzzy'"
    with pytest.raises(UsageError, match=expected):
        rag.retrieve("When does the backup run?", mode="fuzzy")
    with pytest.raises(UsageError, match=expected):
        rag.ask("When does the backup run?", SearchOptions(mode="fuzzy"))  # type: ignore[arg-type]
    assert fake_models.calls == []
    for mode in MODES:
        assert rag.retrieve("When does the backup run?", mode=mode)


def test_answer_mode_generate_shows_the_small_models_own_text_checked(
    tmp_path: Path, fake_models: ScriptedChatModel
) -> None:
    rag = Rag.from_settings(
        min_score=-1.0, chunk_context="none", llm_prompt="small", answer_mode="generate"
    )
    rag.ingest(write_files(tmp_path / "docs", SAMPLE_FILES))
    answer = rag.ask("When does the backup run?", k=2)
    assert (answer.kind, answer.text) == ("generated", BACKUP_REPLY)
    assert [item.supported for item in answer.support] == [True]
    data = answer.to_dict()
    assert data["answer_kind"] == "generated" and data["supported_share"] == 1.0
    assert data["support"][0]["supported"] is True


def test_a_generated_sentence_with_a_number_no_source_has_is_marked(
    tmp_path: Path, hash_embeddings: Any
) -> None:
    llm = ScriptedChatModel(
        replies={"backup": "The backup runs nightly at 02:30 [1]. It keeps 90 copies."}
    )
    rag = Rag(
        load_settings({"min_score": -1.0, "chunk_context": "none"}),
        embeddings=hash_embeddings,
        llm=llm,
    )
    rag.ingest(write_files(tmp_path / "docs", SAMPLE_FILES))
    answer = rag.ask("When does the backup run?", k=2)
    assert [(item.text, item.supported) for item in answer.support] == [
        ("The backup runs nightly at 02:30 [1].", True),
        ("It keeps 90 copies.", False),
    ]
    assert "90" in answer.support[1].missing
    assert answer.supported_share == 0.5
