"""BM25 over chunk texts with bm25s: English stemming, jieba for Chinese, saved without pickle.

Tokenisation is chosen per run of characters, so mixed Chinese/English chunks work: CJK runs
go through jieba (or character bigrams when jieba is absent), other words are lower-cased,
stop words dropped and stemmed with the Snowball English stemmer.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

SPARSE_FOLDER = "bm25"
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_RUNS = re.compile(rf"[{_CJK}]+|[^\W{_CJK}]+", re.UNICODE)
_CJK_RUN = re.compile(rf"[{_CJK}]")
# fmt: off
STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "has", "have",
    "how", "i", "if", "in", "into", "is", "it", "its", "of", "on", "or", "s", "so", "such",
    "t", "than", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was",
    "we", "were", "what", "when", "where", "which", "who", "why", "will", "with", "you",
    "your", "do", "does", "did", "can", "could", "should", "would",
})
# fmt: on


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _jieba() -> Any:
    try:
        import jieba
    except ImportError:
        return None
    jieba.setLogLevel(60)
    return jieba


def cjk_share(text: str) -> float:
    """Share of letters that are Chinese, Japanese or Korean."""
    letters = [char for char in text if char.isalnum()]
    if not letters:
        return 0.0
    return sum(1 for char in letters if _CJK_RUN.match(char)) / len(letters)


def tokenize(text: str) -> list[str]:
    """Search tokens of a text: stemmed English words and segmented CJK words."""
    tokens: list[str] = []
    words: list[str] = []
    for run in _RUNS.findall(text.lower()):
        if _CJK_RUN.match(run):
            tokens.extend(_segment_cjk(run))
        elif run not in STOPWORDS:
            words.append(run)
    tokens.extend(_stemmer().stemWords(words))
    return tokens


def _segment_cjk(run: str) -> list[str]:
    jieba = _jieba()
    if jieba is not None:
        return [word for word in jieba.lcut_for_search(run) if word.strip()]
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def top_rows(
    scores: np.ndarray[Any, Any], k: int, *, positive_only: bool = True
) -> list[tuple[int, float]]:
    """Up to ``k`` (row, score) pairs, best first: those with a positive score by default."""
    if k <= 0 or not len(scores):
        return []
    if k < len(scores):
        # Partition first: a full sort of every chunk's score costs ~10 ms at 100k chunks.
        head = np.argpartition(-scores, k - 1)[:k]
        order = head[np.lexsort((head, -scores[head]))]
    else:
        order = np.argsort(-scores, kind="stable")
    return [(int(row), float(scores[row])) for row in order if not positive_only or scores[row] > 0]


BM25_K1 = 1.5
BM25_B = 0.75


def bm25_score(
    query_tokens: Sequence[str],
    chunk_tokens: Counter[str],
    document_frequency: dict[str, int],
    chunks: int,
    average_length: float,
    *,
    k1: float = BM25_K1,
    b: float = BM25_B,
) -> float:
    """BM25 of one chunk as bm25s scores it (Lucene's idf), from counts kept elsewhere.

    A database keeps the counts (document frequencies, lengths) instead of a bm25s model.
    """
    length = sum(chunk_tokens.values())
    norm = k1 * (1 - b + b * length / average_length) if average_length > 0 else k1
    score = 0.0
    for token in query_tokens:
        tf = chunk_tokens.get(token, 0)
        if tf:
            df = document_frequency.get(token, 0)
            idf = math.log(1 + (chunks - df + 0.5) / (df + 0.5))
            score += idf * tf / (tf + norm)
    return score


class SparseIndex:
    """BM25 scores for every chunk, in the row order of the dense index."""

    def __init__(self, model: Any, size: int) -> None:
        """Wrap a fitted ``bm25s.BM25`` over ``size`` chunks (None: no chunk has a word)."""
        self._model = model
        self.size = size

    @classmethod
    def build(cls, texts: Sequence[str], k1: float = BM25_K1, b: float = BM25_B) -> SparseIndex:
        """Index the texts (the same strings the dense index embedded)."""
        import bm25s

        tokens = [tokenize(text) for text in texts]
        if not any(tokens):
            return cls(None, len(texts))
        model = bm25s.BM25(k1=k1, b=b)
        model.index(tokens, show_progress=False)
        return cls(model, len(texts))

    def scores(self, query: str) -> np.ndarray[Any, np.dtype[np.float32]]:
        """BM25 score of every chunk for the query (zeros when no word matches)."""
        tokens = tokenize(query)
        if not tokens or self._model is None:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._model.get_scores(tokens), dtype=np.float32)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """Up to ``k`` (row, score) pairs with a positive score, best first."""
        return top_rows(self.scores(query), k)

    def save(self, folder: Path) -> None:
        """Write bm25s' JSON and .npy files (never pickled) into ``folder/bm25``."""
        target = folder / SPARSE_FOLDER
        target.mkdir(exist_ok=True)
        if self._model is not None:
            self._model.save(str(target), allow_pickle=False, show_progress=False)
        meta = {"size": self.size, "empty": self._model is None}
        (target / "size.json").write_text(json.dumps(meta), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> SparseIndex:
        """Read what ``save`` wrote; raises ``OSError`` or ``ValueError`` when damaged."""
        import bm25s

        target = folder / SPARSE_FOLDER
        meta = json.loads((target / "size.json").read_text(encoding="utf-8"))
        if meta.get("empty"):
            return cls(None, int(meta["size"]))
        model = bm25s.BM25.load(str(target), allow_pickle=False, load_corpus=False)
        return cls(model, int(meta["size"]))
