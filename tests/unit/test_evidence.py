from collections.abc import Sequence

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding

from chains.evidence import (
    embedding_similarity,
    overlap_and_similarity,
    select_evidence,
    sentences,
    word_overlap,
)

TEXT = (
    "Backups run nightly at 02:30 with restic.  Retention: 7 daily, 4 weekly.\n"
    "Once a month a copy goes to a USB disk! 七十亿参数的模型需要五GB内存。量化可以减少内存。"
)


def test_sentence_spans_cover_english_and_chinese_sentences() -> None:
    found = [TEXT[start:end] for start, end in sentences(TEXT)]
    assert found == [
        "Backups run nightly at 02:30 with restic.",
        "Retention: 7 daily, 4 weekly.",
        "Once a month a copy goes to a USB disk!",
        "七十亿参数的模型需要五GB内存。",
        "量化可以减少内存。",
    ]


def test_the_best_sentence_comes_first_with_its_span_in_the_file() -> None:
    docs = [
        Document(page_content="Nothing about the question here at all.", metadata={"source": "a"}),
        Document(page_content=TEXT, metadata={"source": "g.pdf", "page": 2, "start_index": 500}),
    ]
    (best, *rest) = select_evidence("When do the backups run?", docs)
    assert best.text == "Backups run nightly at 02:30 with restic."
    assert (best.source, best.page, best.source_number) == ("g.pdf", 2, 2)
    assert (best.start, best.end) == (500, 500 + len(best.text))
    assert best.location == "g.pdf:2 [500:541]"
    assert best.score == 1.0
    assert len(rest) <= 2


def test_chinese_questions_get_chinese_evidence() -> None:
    docs = [Document(page_content=TEXT, metadata={"source": "n.md"})]
    (best, *_) = select_evidence("七十亿参数的模型需要多少内存？", docs)
    assert best.text == "七十亿参数的模型需要五GB内存。"


def test_wrapped_lines_stay_one_sentence_and_headings_are_not_evidence() -> None:
    text = (
        "## Importing a GGUF model\n\nWrite a Modelfile next to the GGUF file and run\n"
        "`ollama create NAME -f Modelfile` to import it.\n- Then run it with ollama run NAME."
    )
    found = [text[start:end] for start, end in sentences(text)]
    assert found == [
        "## Importing a GGUF model",
        "Write a Modelfile next to the GGUF file and run\n"
        "`ollama create NAME -f Modelfile` to import it.",
        "- Then run it with ollama run NAME.",
    ]
    docs = [Document(page_content=text, metadata={"source": "o.md"})]
    best = select_evidence("How do I import a GGUF model?", docs)[0]
    assert best.text.startswith("Write a Modelfile")


def test_no_shared_words_means_no_evidence() -> None:
    docs = [Document(page_content=TEXT, metadata={"source": "n.md"})]
    assert select_evidence("What is the capital of Peru?", docs) == []


def test_word_overlap_is_the_share_of_question_words_found() -> None:
    scores = word_overlap("When do backups run?", ["Backups run at night.", "Nothing here."])
    assert scores[0] == 1.0
    assert scores[1] == 0.0


def test_embedding_similarity_prefers_the_sentence_closest_in_meaning() -> None:
    # The deterministic fake embeds equal texts to equal vectors: similarity 1 for a copy.
    embeddings = DeterministicFakeEmbedding(size=32)
    question = "Which port does the server use?"
    scores = embedding_similarity(embeddings)(question, ["Something else.", question])
    assert scores[1] == pytest.approx(1.0)
    assert all(0.0 <= score <= 1.0 for score in scores)


def test_a_scorer_decides_which_sentence_is_evidence() -> None:
    docs = [Document(page_content="Alpha beta gamma. Delta epsilon zeta.", metadata={})]

    def prefer_delta(question: str, texts: Sequence[str]) -> list[float]:
        return [1.0 if text.startswith("Delta") else 0.1 for text in texts]

    (best, *_) = select_evidence("anything", docs, scorer=prefer_delta)
    assert best.text == "Delta epsilon zeta."
    assert best.score == 1.0


def test_both_averages_word_overlap_and_similarity() -> None:
    embeddings = DeterministicFakeEmbedding(size=32)
    question = "backups run nightly"
    texts = [question, "unrelated words"]
    both = overlap_and_similarity(embeddings)(question, texts)
    words = word_overlap(question, texts)
    meaning = embedding_similarity(embeddings)(question, texts)
    assert both == pytest.approx([(w + m) / 2 for w, m in zip(words, meaning, strict=True)])
