"""Training pairs from the index's own chunks: what a chunk is about, matched to the chunk.

Label-free pairs need no generator: a chunk's title against the chunk, and one of its
sentences against the rest of it (the inverse cloze task). Questions written by a capable
answer model come from ``app.tuning.questions``. Nothing here sees the queries of an
evaluation set: every pair is made from the chunk texts alone.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from retrievers.docstore import ChunkRecord

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")
_WORD = re.compile(r"\w+")
MIN_QUERY_WORDS = 6
MIN_PASSAGE_WORDS = 20


@dataclass(frozen=True)
class TrainingPair:
    """A query and the passage it should find, with the chunk and file it came from."""

    query: str
    passage: str
    kind: str
    chunk_id: str
    source: str


def sentences(text: str) -> list[str]:
    """The sentences of a chunk, split at end punctuation followed by a capital or digit."""
    return [part.strip() for part in _SENTENCE_END.split(text) if part.strip()]


def words(text: str) -> list[str]:
    """Lower-case word tokens, for lengths and overlap."""
    return _WORD.findall(text.lower())


def label_free_pairs(
    records: Iterable[ChunkRecord], *, seed: int, sentences_per_chunk: int = 2
) -> list[TrainingPair]:
    """Title and sentence pairs from every chunk long enough to learn from, in a fixed order."""
    rng = random.Random(seed)
    pairs: list[TrainingPair] = []
    for record in records:
        if len(words(record.text)) < MIN_PASSAGE_WORDS:
            continue
        source = str(record.metadata.get("source", ""))
        title = str(record.metadata.get("title") or "").strip()
        if len(words(title)) >= 3 and not _is_file_name(title, source):
            pairs.append(TrainingPair(title, record.text, "title", record.id, source))
        for query, rest in _cloze(record.text, rng, sentences_per_chunk):
            passage = with_title(title, rest)
            pairs.append(TrainingPair(query, passage, "sentence", record.id, source))
    return pairs


def _cloze(text: str, rng: random.Random, at_most: int) -> Iterator[tuple[str, str]]:
    """Up to ``at_most`` (sentence, the chunk without that sentence) pairs."""
    parts = sentences(text)
    if len(parts) < 3:
        return
    candidates = [i for i, part in enumerate(parts) if len(words(part)) >= MIN_QUERY_WORDS]
    for i in sorted(rng.sample(candidates, min(at_most, len(candidates)))):
        yield parts[i], " ".join(parts[:i] + parts[i + 1 :])


def with_title(title: str, text: str) -> str:
    """The passage as it is embedded with title context (the title in front, once)."""
    return f"{title}\n\n{text}" if title and not text.lstrip().startswith(title) else text


def _is_file_name(title: str, source: str) -> bool:
    """A title that is only the file's name says nothing the chunk's own words do not."""
    stem = source.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return words(title) == words(stem)


def held_out(
    pairs: Sequence[TrainingPair], share: float, seed: int
) -> tuple[list[TrainingPair], list[TrainingPair]]:
    """(training, held-out) pairs: whole files kept back, or whole chunks when there is one file.

    Keeping a file's pairs on one side stops the held-out score from rewarding memorised text.
    """
    sources = {pair.source for pair in pairs}

    def key(pair: TrainingPair) -> str:
        return pair.source if len(sources) > 1 else pair.chunk_id

    groups = sorted({key(pair) for pair in pairs})
    random.Random(seed).shuffle(groups)
    kept_back = set(groups[: max(1, round(len(groups) * share))]) if len(groups) > 1 else set()
    train = [pair for pair in pairs if key(pair) not in kept_back]
    return train, [pair for pair in pairs if key(pair) in kept_back]


def batches(pairs: Iterable[TrainingPair], size: int, seed: int) -> list[list[TrainingPair]]:
    """Shuffled batches in which no chunk and no query appears twice.

    Every query of a batch is scored against every passage of it: two pairs of one chunk,
    or one title shared by several chunks, would put one passage in a batch twice.
    """
    pending = list(pairs)
    random.Random(seed).shuffle(pending)
    result: list[list[TrainingPair]] = []
    open_batches: list[tuple[list[TrainingPair], set[str]]] = []
    for pair in pending:
        keys = {f"chunk:{pair.chunk_id}", f"query:{pair.query}"}
        target = next((entry for entry in open_batches if not keys & entry[1]), None)
        if target is None:
            target = ([], set())
            open_batches.append(target)
        target[0].append(pair)
        target[1].update(keys)
        if len(target[0]) == size:
            result.append(target[0])
            open_batches.remove(target)
    result.extend(batch for batch, _ in open_batches if len(batch) > 1)
    return result
