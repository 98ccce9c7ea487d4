"""Grounded answers and the support check, on their own (no models)."""

from __future__ import annotations

import dataclasses

import pytest
from langchain_core.documents import Document
from langchain_core.messages import AIMessage, HumanMessage

from app.answers import Answer
from chains.conversation import depends_on_earlier_turns, with_previous_question
from chains.evidence import select_evidence
from chains.grounding import grounded_answer, question_kind, short_answer
from chains.support import check_support, supported_share

NOTES = Document(
    page_content=(
        "Ollama listens on 127.0.0.1:11434 by default. Without NO_PROXY, clients send local "
        "requests to the proxy. The symptom is a 502 Bad Gateway error. Backups run nightly at "
        "02:30 with restic. The NAS named vault was bought by Alice Meyer in March 2019. Import "
        "a GGUF file with `ollama create my-model -f Modelfile` and run it."
    ),
    metadata={"source": "notes.md", "start_index": 100},
)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Why do I get a 502 error?", "reason"),
        ("When do backups run?", "date"),
        ("In what year was the NAS bought?", "date"),
        ("How many copies are kept?", "number"),
        ("Who bought the NAS?", "person"),
        ("Where does Ollama listen?", "place"),
        ("Which tool runs the backups?", "entity"),
        ("What is a Modelfile?", "thing"),
    ],
)
def test_question_kinds(question: str, kind: str) -> None:
    assert question_kind(question) == kind


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        ("When do backups run?", "Backups run nightly at 02:30 with restic.", "02:30"),
        (
            "Who bought the NAS?",
            "The NAS named vault was bought by Alice Meyer in March 2019.",
            "Alice Meyer",
        ),
        (
            "In what year was the NAS bought?",
            "The NAS named vault was bought by Alice Meyer in March 2019.",
            "March 2019",
        ),
        (
            "How do I import a GGUF file?",
            "Import a GGUF file with `ollama create my-model -f Modelfile` and run it.",
            "`ollama create my-model -f Modelfile`",
        ),
    ],
)
def test_the_short_answer_is_the_span_the_question_asks_for(
    question: str, sentence: str, expected: str
) -> None:
    span = short_answer(question, sentence)
    assert span is not None
    assert span.text == expected == sentence[span.start : span.end]


def test_the_short_answer_never_repeats_the_question() -> None:
    span = short_answer("Who bought the NAS named vault?", "Alice Meyer bought the NAS vault.")
    assert span is not None and span.text == "Alice Meyer"


def test_a_grounded_answer_is_a_whole_sentence_of_the_sources_with_its_place() -> None:
    question = "When do backups run?"
    answer = grounded_answer(question, select_evidence(question, [NOTES]), [NOTES])
    assert answer is not None
    assert answer.text == "Backups run nightly at 02:30 with restic."
    assert answer.short_answer == "02:30"
    start = NOTES.page_content.index("Backups run")
    assert (answer.quote.source, answer.quote.start) == ("notes.md", 100 + start)
    assert answer.quote.end - answer.quote.start == len(answer.text)


def test_why_gets_the_cause_stated_before_the_effect() -> None:
    question = "Why do I get a 502 Bad Gateway error?"
    answer = grounded_answer(question, select_evidence(question, [NOTES]), [NOTES])
    assert answer is not None
    assert answer.text == (
        "Without NO_PROXY, clients send local requests to the proxy. "
        "The symptom is a 502 Bad Gateway error."
    )


def test_no_evidence_no_grounded_answer() -> None:
    assert grounded_answer("What is the airspeed of a swallow?", [], [NOTES]) is None


def test_support_marks_a_number_no_source_has() -> None:
    checked = check_support("Ollama listens on port 8080 [1].", [NOTES])
    assert [(item.supported, item.missing[:1]) for item in checked] == [(False, ("8080",))]


def test_support_accepts_a_restated_source() -> None:
    checked = check_support(
        "Ollama listens on port 11434 by default [1]. Backups run nightly at 02:30.", [NOTES]
    )
    assert [item.supported for item in checked] == [True, True]
    assert supported_share(checked) == 1.0


def test_support_marks_invented_commands_and_a_share() -> None:
    checked = check_support(
        "Backups run nightly. Use the ollama import command to load weights quickly.", [NOTES]
    )
    assert [item.supported for item in checked] == [True, False]
    assert supported_share(checked) == 0.5
    assert supported_share([]) == 1.0
    assert check_support("Anything at all.", [])[0].supported is False


@pytest.mark.parametrize(
    ("question", "dependent"),
    [
        ("and how do I change it?", True),
        ("What about the NAS?", True),
        ("Where is that configured?", True),
        ("When do backups run?", False),
        ("Which port does Ollama use?", False),
    ],
)
def test_a_small_models_follow_up_borrows_the_previous_question_only_when_it_needs_it(
    question: str, dependent: bool
) -> None:
    history = [HumanMessage("What port does Ollama listen on?"), AIMessage("11434")]
    standalone = with_previous_question({"question": question, "history": history})
    assert depends_on_earlier_turns(question) is dependent
    assert standalone == (f"What port does Ollama listen on? {question}" if dependent else question)


def test_the_short_answer_is_bold_and_a_command_stays_whole() -> None:
    answer = Answer(
        question="How do I start it?",
        text="Run `OLLAMA_HOST=0.0.0.0:11434 ollama serve` to start it.",
        sources=(),
        short_answer="0.0.0.0:11434",
    )
    assert answer.marked_text == "Run **`OLLAMA_HOST=0.0.0.0:11434 ollama serve`** to start it."
    plain = Answer(question="q", text="Backups run at 02:30.", sources=(), short_answer="02:30")
    assert plain.marked_text == "Backups run at **02:30**."
    assert dataclasses.replace(plain, short_answer="").marked_text == plain.text


def test_support_marks_a_command_no_source_has() -> None:
    checked = check_support(
        "Use the `ollama import` command. Run `ollama create my-model -f Modelfile`.", [NOTES]
    )
    assert [(item.supported, item.missing[:1]) for item in checked] == [
        (False, ("`ollama import`",)),
        (True, ()),
    ]
