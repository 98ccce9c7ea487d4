"""Training pairs for ``rag tune``: made from chunk texts alone, batched without false negatives."""

import random
import time
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from app.evaluation import load_beir
from app.tuning.pairs import TrainingPair, batches, held_out, label_free_pairs, sentences
from app.tuning.questions import passage_window, question_pairs
from app.tuning.training import _learning_rate_share, _steps_that_fit
from chains.questions import clean_question, question_writer
from retrievers.docstore import ChunkRecord

SCIFACT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "scifact"
TEXT = (
    "Backups run every night at 02:30 and copy the home folder to the NAS. "
    "The copy keeps thirty daily versions before the oldest one is removed. "
    "A restore starts from the web page of the NAS under the Backup tab. "
    "Failed runs send an e-mail to the administrator within five minutes."
)


def record(chunk_id: str, source: str, title: str = "", text: str = TEXT) -> ChunkRecord:
    return ChunkRecord(chunk_id, text, {"source": source, "title": title})


def numbered(i: int) -> str:
    return " ".join(
        f"Server {i} keeps copy {j} of the nightly backup on its disk." for j in range(4)
    )


def test_sentences_split_at_end_punctuation_before_a_capital() -> None:
    assert sentences("One is 2.5 big. Two follows! 3 more? end.") == [
        "One is 2.5 big.",
        "Two follows!",
        "3 more? end.",
    ]


def test_a_sentence_is_paired_with_the_rest_of_its_chunk_and_a_title_with_the_chunk() -> None:
    pairs = label_free_pairs([record("c1", "backup.md", "Nightly backup schedule")], seed=0)
    kinds = [pair.kind for pair in pairs]
    assert kinds == ["title", "sentence", "sentence"]
    assert pairs[0] == TrainingPair("Nightly backup schedule", TEXT, "title", "c1", "backup.md")
    for pair in pairs[1:]:
        assert pair.query in TEXT
        assert pair.query not in pair.passage
        assert pair.passage.startswith("Nightly backup schedule\n\n")


def test_titles_that_are_file_names_and_short_chunks_give_no_pairs() -> None:
    pairs = label_free_pairs(
        [record("c1", "notes/backup-plan.md", "Backup plan"), record("c2", "x.md", text="Short.")],
        seed=0,
    )
    assert {pair.kind for pair in pairs} == {"sentence"}
    assert {pair.chunk_id for pair in pairs} == {"c1"}


def test_the_same_seed_gives_the_same_pairs() -> None:
    records = [record(f"c{i}", f"f{i}.md", f"Topic number {i} explained") for i in range(20)]
    assert label_free_pairs(records, seed=3) == label_free_pairs(records, seed=3)
    assert label_free_pairs(records, seed=3) != label_free_pairs(records, seed=4)


def test_batches_never_hold_one_chunk_or_one_query_twice() -> None:
    records = [
        record(f"c{i}", f"f{i % 4}.md", "Shared section title", text=numbered(i)) for i in range(30)
    ]
    pairs = label_free_pairs(records, seed=0)
    made = batches(pairs, 8, seed=0)
    placed = [pair for batch in made for pair in batch]
    # One title shared by 30 chunks fits once a batch; every distinct sentence finds a place.
    assert {pair for pair in pairs if pair.kind == "sentence"} <= set(placed)
    for batch in made:
        assert len({pair.chunk_id for pair in batch}) == len(batch)
        assert len({pair.query for pair in batch}) == len(batch)


def test_held_out_pairs_come_from_files_the_training_never_sees() -> None:
    records = [record(f"c{i}", f"f{i}.md") for i in range(40)]
    train, kept_back = held_out(label_free_pairs(records, seed=0), 0.1, seed=0)
    assert kept_back
    assert not {pair.source for pair in train} & {pair.source for pair in kept_back}


def test_one_file_is_held_out_by_chunk() -> None:
    records = [record(f"c{i}", "book.pdf") for i in range(40)]
    train, kept_back = held_out(label_free_pairs(records, seed=0), 0.1, seed=0)
    assert train and kept_back
    assert not {pair.chunk_id for pair in train} & {pair.chunk_id for pair in kept_back}


def test_pairs_from_an_evaluation_corpus_never_contain_its_queries() -> None:
    dataset = load_beir(SCIFACT)
    records = [
        ChunkRecord(doc_id, text, {"source": doc_id, "title": title})
        for doc_id, (title, text) in dataset.corpus.items()
    ]
    pairs = label_free_pairs(records, seed=0)
    assert len(pairs) > 10_000
    queries = {text.strip().lower() for text in dataset.queries.values()}
    made = {pair.query.strip().lower() for pair in pairs} | {
        pair.passage.strip().lower() for pair in pairs
    }
    assert not queries & made


def test_a_written_question_is_cleaned_of_labels_and_quotes() -> None:
    assert clean_question('Question: "When do backups run?"\nIt asks about time.') == (
        "When do backups run?"
    )


def test_the_writer_reads_a_window_of_whole_sentences_of_its_chunk() -> None:
    long_text = " ".join(numbered(i) for i in range(12))
    window = passage_window(long_text, random.Random(3), size=150)
    assert window in long_text and window.endswith(".") and window[0].isupper()
    assert 150 <= len(window) < 150 + 60  # whole sentences: at most one more
    starts = {passage_window(long_text, random.Random(seed), size=150)[:20] for seed in range(8)}
    assert len(starts) > 1  # not always the opening
    assert passage_window(TEXT, random.Random(0), size=len(TEXT)) == TEXT


def fake_writer(count: int) -> GenericFakeChatModel:
    replies = iter([AIMessage(f"Question: where is copy {n} kept?") for n in range(count)])
    return GenericFakeChatModel(messages=replies)


def test_written_questions_pair_with_their_whole_chunk_until_the_deadline() -> None:
    chunks = [record(f"c{i}", f"s{i}.md", text=numbered(i)) for i in range(10)]
    progress: list[tuple[int, int]] = []
    pairs = question_pairs(
        chunks, fake_writer(10), seed=0, on_progress=lambda *p: progress.append(p)
    )
    assert len(pairs) == 10 and {pair.kind for pair in pairs} == {"question"}
    texts = {chunk.id: chunk.text for chunk in chunks}
    assert all(pair.passage == texts[pair.chunk_id] for pair in pairs)
    assert pairs[0].query.startswith("where is copy") and progress[-1] == (10, 10)

    past = time.perf_counter()
    assert question_pairs(chunks, fake_writer(10), seed=0, deadline=past) == []


def test_the_question_writer_is_greedy_without_a_repeat_penalty() -> None:
    from langchain_ollama import ChatOllama

    from app.models.llamacpp import LlamaCppChat

    local = LlamaCppChat(model_path="model.gguf", temperature=0.2, repeat_penalty=1.1)
    written = question_writer(local)
    assert isinstance(written, LlamaCppChat)
    assert (written.temperature, written.repeat_penalty, written.max_tokens) == (0.0, 1.0, 64)
    assert local.repeat_penalty == 1.1  # the answer model itself is unchanged
    served = question_writer(ChatOllama(model="llama3.2", repeat_penalty=1.2))
    assert (served.temperature, served.repeat_penalty, served.num_predict) == (0.0, 1.0, 64)


def test_the_plan_is_cut_to_what_fits_the_budget_and_the_rate_decays_to_zero() -> None:
    assert (
        _steps_that_fit(done=5, step_seconds=10, left_seconds=600, check_seconds=20, checks=10)
        == 45
    )
    assert (
        _steps_that_fit(done=5, step_seconds=10, left_seconds=100, check_seconds=20, checks=10) == 6
    )
    shares = [_learning_rate_share(step, 100, 0.1) for step in range(100)]
    assert shares[:10] == [pytest.approx(n / 10) for n in range(1, 11)]
    assert shares[10:] == sorted(shares[10:], reverse=True) and 0 < shares[-1] < 0.02
