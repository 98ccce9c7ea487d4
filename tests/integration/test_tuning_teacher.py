"""The teacher of ``rag tune``: hybrid search's best other hits and its scores (real model)."""

from __future__ import annotations

import pytest

from app.tuning.pairs import TrainingPair
from app.tuning.teacher import CANDIDATES, HybridTeacher
from retrievers.docstore import ChunkRecord
from tests.support.tuning import teacher_over

pytestmark = pytest.mark.integration
SCALE = 20.0
BACKUP = (
    "Backups run every night at 02:30 and copy the home folder to the NAS. "
    "The copy keeps thirty daily versions before the oldest one is removed."
)
RESTORE = (
    "A restore of the nightly backup starts from the web page of the NAS. "
    "Pick the version by date, then the folder, and press the restore button to copy it back."
)
MOUNTAINS = (
    "The hiking club meets on Saturdays at the station and walks for about five hours. "
    "Members bring water, a map and a rain jacket; dogs on a lead are welcome."
)
RECORDS = [
    ChunkRecord("c1", BACKUP, {"source": "backup.md", "title": "Nightly backup"}),
    ChunkRecord("c2", BACKUP + " Checked weekly.", {"source": "copy.md", "title": "Copy"}),
    ChunkRecord("c3", RESTORE, {"source": "restore.md", "title": "Restoring files"}),
    ChunkRecord("c4", MOUNTAINS, {"source": "hiking.md", "title": "Hiking club"}),
    ChunkRecord("c5", "The ZX81 had one kilobyte of memory.", {"source": "zx.md"}),
]


def teacher() -> HybridTeacher:
    return teacher_over(RECORDS)


def pair(query: str, chunk: ChunkRecord, kind: str = "sentence") -> TrainingPair:
    return TrainingPair(query, chunk.text, kind, chunk.id, str(chunk.metadata["source"]))


def test_a_batch_holds_the_answers_then_the_best_other_hits_once_each() -> None:
    backup = pair("When do the nightly backups of the home folder run?", RECORDS[0])
    restore = pair("How do I restore a backup from the NAS?", RECORDS[2])
    batch = teacher().batch([backup, restore])
    assert batch.queries == [backup.query, restore.query]
    assert batch.passages[:2] == [BACKUP, RESTORE]
    others = batch.passages[2:]
    assert len(others) == len(set(others)) <= 2 * CANDIDATES
    assert BACKUP not in others and RESTORE not in others  # an answer of the batch, once
    # The near-copy of the backup chunk is its query's best other hit: the teacher scores it
    # high rather than the training pushing it away.
    assert others[0] == "Copy\n\n" + RECORDS[1].text


def test_a_title_querys_other_hits_are_bare_chunks_like_its_answer() -> None:
    title = pair("Restoring files", RECORDS[2], kind="title")
    sentence = pair("Press the restore button to copy a version back.", RECORDS[2])
    assert all("\n\n" not in text for text in teacher().batch([title]).passages)
    others = teacher().batch([sentence]).passages[1:]
    assert any(text.startswith("Nightly backup\n\n") for text in others)


def test_the_teachers_scores_are_the_hybrid_fusion_in_cosine_units() -> None:
    judge = teacher()
    query = "How much memory did the ZX81 have?"
    batch = judge.batch([pair(query, RECORDS[4])])
    logits = judge.logits(batch, SCALE).numpy()[0]
    cosines = judge.encode([query]) @ judge.encode(batch.passages).T
    best = cosines.max()
    # Passages without a query word get the dense half alone; the answer, the only one with
    # "zx81" and "memory", gets the BM25 half in full.
    lexical_share = logits / (SCALE * best) - cosines[0] / best / 2
    assert lexical_share[0] == pytest.approx(0.5, abs=1e-5)
    for passage, share in zip(batch.passages[1:], lexical_share[1:], strict=True):
        assert "ZX81" not in passage
        assert share == pytest.approx(0.0, abs=1e-5) or "memory" in passage
    assert logits.argmax() == 0


def test_with_no_query_word_in_any_passage_the_scores_are_the_cosines() -> None:
    judge = teacher()
    batch = judge.batch([pair("xylophone quartet", RECORDS[3])])
    logits = judge.logits(batch, SCALE).numpy()[0]
    cosines = (judge.encode(batch.queries) @ judge.encode(batch.passages).T)[0]
    assert logits == pytest.approx(SCALE * cosines, abs=1e-4)
