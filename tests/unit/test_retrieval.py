"""Metrics against hand-computed cases, fusion, tokenisation and the hybrid retriever."""

import math
from pathlib import Path

import numpy as np
import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings

from app.evaluation import mrr_at_k, ndcg_at_k, recall_at_k, score_rankings
from retrievers.docstore import ChunkRecord
from retrievers.hybrid import HybridRetriever, dense_weight_for, fuse_rankings
from retrievers.manifest import Chunking, EmbeddingSpec
from retrievers.snapshot_store import SnapshotStore
from retrievers.sparse import cjk_share, tokenize, top_rows
from retrievers.vector_index import VectorIndex

NO_CONTEXT = Chunking(chunk_size=1000, chunk_overlap=100, context="none")


def test_ndcg_by_hand() -> None:
    assert ndcg_at_k(["d1", "d2", "d3"], {"d2": 1}) == pytest.approx(1 / math.log2(3))
    both = ndcg_at_k(["d1", "d2", "d3"], {"d1": 1, "d3": 1})
    assert both == pytest.approx(1.5 / (1 + 1 / math.log2(3)))  # 0.9197
    graded = ndcg_at_k(["b", "a"], {"a": 2, "b": 1})
    assert graded == pytest.approx((1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3)))  # 0.8597
    assert ndcg_at_k(["x"], {"d": 1}) == 0.0
    assert ndcg_at_k(["d"], {}) == 0.0


def test_recall_and_mrr_by_hand() -> None:
    ranked = ["a", "b", "c", "d"]
    relevant = {"b": 1, "d": 1, "z": 1}
    assert recall_at_k(ranked, relevant, 2) == pytest.approx(1 / 3)
    assert recall_at_k(ranked, relevant, 10) == pytest.approx(2 / 3)
    assert mrr_at_k(ranked, relevant) == 0.5
    assert mrr_at_k(ranked, {"z": 1}) == 0.0


def test_scores_average_over_judged_queries() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    scores = score_rankings({"q1": ["a"], "q2": ["x", "b"]}, qrels)
    assert scores["mrr@10"] == pytest.approx((1 + 0.5) / 2)
    assert scores["recall@100"] == 1.0


def test_reciprocal_rank_fusion_by_hand() -> None:
    fused = fuse_rankings([[1, 2, 3], [3, 4]], [1.0, 1.0], rrf_k=60)
    assert [item for item, _ in fused] == [3, 1, 2, 4]
    assert fused[0][1] == pytest.approx(1 / 63 + 1 / 61)
    weighted = fuse_rankings([[1, 2], [2, 1]], [0.1, 1.0], rrf_k=60)
    assert [item for item, _ in weighted] == [2, 1]
    assert fuse_rankings([[1], [2]], [0.0, 1.0]) == [(2, pytest.approx(1 / 61))]


def test_tokenize_stems_english_and_segments_chinese() -> None:
    assert tokenize("The running models were imported") == ["run", "model", "import"]
    chinese = tokenize("量化可以减少内存占用")
    assert "量化" in chinese and "内存" in chinese
    assert "q4_k_m" in tokenize("Q4_K_M quantisation")
    assert cjk_share("7B模型需要多少内存") > 0.7
    assert cjk_share("plain English") == 0.0


def test_dense_weight_drops_for_chinese_with_an_english_model() -> None:
    assert dense_weight_for("7B模型需要多少内存？", dense_reads_cjk=False, weight=1.0) == 0.1
    assert dense_weight_for("7B模型需要多少内存？", dense_reads_cjk=True, weight=1.0) == 1.0
    assert dense_weight_for("How much memory?", dense_reads_cjk=False, weight=1.0) == 1.0


TEXTS = [
    "Backups run nightly at 02:30 with restic to the NAS named vault.",
    "Ollama listens on port 11434 unless OLLAMA_HOST says otherwise.",
    "七十亿参数的模型在四位量化下大约需要五GB内存。",
    "FAISS IndexFlatIP gives exact cosine search over normalized vectors.",
]


def _index(embeddings: DeterministicFakeEmbedding) -> VectorIndex:
    records = [ChunkRecord(f"c{i}", text, {"source": f"d{i}.md"}) for i, text in enumerate(TEXTS)]
    vectors = np.asarray(embeddings.embed_documents(TEXTS), dtype=np.float32)
    spec = EmbeddingSpec("fake", "fake", vectors.shape[1])
    return VectorIndex.from_vectors(spec, NO_CONTEXT, records, vectors, [])


def test_bm25_mode_finds_rare_words_without_embeddings(
    hash_embeddings: DeterministicFakeEmbedding,
) -> None:
    retriever = HybridRetriever(index=_index(hash_embeddings), mode="bm25", k=2)
    docs = retriever.invoke("restic vault")
    assert docs[0].metadata["source"] == "d0.md"
    assert docs[0].metadata["lexical_match"] is True
    assert "score" not in docs[0].metadata
    chinese = retriever.invoke("模型需要多少内存")
    assert chinese[0].metadata["source"] == "d2.md"


def test_hybrid_results_survive_a_reload(
    tmp_path: Path, hash_embeddings: DeterministicFakeEmbedding
) -> None:
    index = _index(hash_embeddings)
    store = SnapshotStore(tmp_path / "idx")
    store.publish(index)
    reloaded = store.load()
    for query in ("restic vault", "port 11434", "内存", "cosine search"):
        before = HybridRetriever(index=index, embeddings=hash_embeddings, k=4).rank(query, 4)
        after = HybridRetriever(index=reloaded, embeddings=hash_embeddings, k=4).rank(query, 4)
        assert before == after


def test_score_fusion_by_hand() -> None:
    from retrievers.hybrid import fuse_scores

    cosines = {1: 0.8, 2: 0.4, 3: 0.2}
    bm25 = {1: 0.0, 2: 10.0, 3: 5.0}
    fused = fuse_scores([1, 2, 3], cosines, bm25, (1.0, 1.0))
    # row 1: 0.8/0.8 + 0 = 1.0; row 2: 0.4/0.8 + 10/10 = 1.5; row 3: 0.25 + 0.5 = 0.75
    assert fused == [(2, pytest.approx(1.5)), (1, pytest.approx(1.0)), (3, pytest.approx(0.75))]
    dense_only = fuse_scores([1, 2, 3], cosines, bm25, (1.0, 0.0))
    assert [row for row, _ in dense_only] == [1, 2, 3]
    no_words = fuse_scores([1, 2], {1: 0.5, 2: 0.9}, {1: 0.0, 2: 0.0}, (1.0, 1.0))
    assert [row for row, _ in no_words] == [2, 1]


def _many(embeddings: Embeddings) -> VectorIndex:
    texts = [
        "Backups run nightly at 02:30 with restic.",
        "Backups run nightly at 02:30 with restic!",
        "Backups run nightly at 02:30, with restic.",
        "The NAS named vault keeps backups for a year.",
        "Ollama listens on port 11434.",
    ]
    sources = ["a.md", "b.md", "c.md", "guide.pdf", "ollama.md"]
    records = [
        ChunkRecord(f"c{i}", text, {"source": source})
        for i, (text, source) in enumerate(zip(texts, sources, strict=True))
    ]
    vectors = np.asarray(embeddings.embed_documents(texts), dtype=np.float32)
    spec = EmbeddingSpec("fake", "fake", vectors.shape[1])
    return VectorIndex.from_vectors(spec, NO_CONTEXT, records, vectors, [])


def test_source_filter_keeps_only_matching_files(
    hash_embeddings: DeterministicFakeEmbedding,
) -> None:
    index = _many(hash_embeddings)
    retriever = HybridRetriever(index=index, embeddings=hash_embeddings, k=3, source_glob="*.pdf")
    docs = retriever.invoke("backups restic")
    assert [doc.metadata["source"] for doc in docs] == ["guide.pdf"]


class FixedQuery(Embeddings):
    """Every query embeds to one given vector (the chunks' vectors are given directly)."""

    def __init__(self, vector: np.ndarray) -> None:
        self.vector = vector

    def embed_query(self, text: str) -> list[float]:
        return [float(x) for x in self.vector]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(text) for text in texts]


@pytest.mark.parametrize("index_type", ["flat", "hnsw", "ivf-sq8"])
def test_a_filtered_search_ranks_the_kept_files_exactly(index_type: str) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(3000, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    records = [ChunkRecord(f"c{i}", f"chunk {i}", {"source": f"f{i % 30}.md"}) for i in range(3000)]
    spec = EmbeddingSpec("fake", "fake", 16)
    index = VectorIndex.from_vectors(spec, NO_CONTEXT, records, vectors, [], index_type=index_type)
    query = -vectors[:30].mean(axis=0)  # far from the kept file's rows 7, 37, 67, ...
    retriever = HybridRetriever(
        index=index, embeddings=FixedQuery(query), mode="dense", k=5, source_glob="f7.md"
    )
    kept = np.arange(7, 3000, 30)
    expected = kept[np.argsort(-(vectors[kept] @ (query / np.linalg.norm(query))))[:5]]
    assert [doc.id for doc in retriever.invoke("q")] == [f"c{row}" for row in expected]


class BagOfWords(Embeddings):
    """Similar texts get similar vectors (unlike hash fakes), which is what MMR looks at."""

    def embed_query(self, text: str) -> list[float]:
        vector = [0.0] * 64
        for token in tokenize(text):
            vector[sum(map(ord, token)) % 64] += 1.0
        return vector

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(text) for text in texts]


def test_mmr_prefers_variety_over_near_duplicates() -> None:
    words = BagOfWords()
    index = _many(words)
    plain = HybridRetriever(index=index, embeddings=words, k=2)
    query = "Backups run nightly at 02:30 with restic."
    assert {d.metadata["source"] for d in plain.invoke(query)} <= {"a.md", "b.md", "c.md"}
    varied = HybridRetriever(index=index, embeddings=words, k=2, mmr=True, mmr_lambda=0.3).invoke(
        query
    )
    sources = [doc.metadata["source"] for doc in varied]
    assert sources[0] in {"a.md", "b.md", "c.md"}
    assert sources[1] not in {"a.md", "b.md", "c.md"}


def test_the_reranker_hook_reorders_the_top_candidates(
    hash_embeddings: DeterministicFakeEmbedding,
) -> None:
    seen: list[tuple[str, int]] = []

    def shortest_first(query: str, passages: "list[str]") -> list[float]:
        seen.append((query, len(passages)))
        return [-float(len(text)) for text in passages]

    index = _many(hash_embeddings)
    retriever = HybridRetriever(
        index=index, embeddings=hash_embeddings, k=5, reranker=shortest_first
    )
    docs = retriever.invoke("backups")
    assert seen == [("backups", 5)]
    lengths = [len(doc.page_content) for doc in docs]
    assert lengths == sorted(lengths)


def test_squad_answer_metrics_by_hand() -> None:
    from app.evaluation import contains_gold, exact_match, normalize_answer, token_f1

    assert normalize_answer("The  Quick, brown fox!") == "quick brown fox"
    assert exact_match("the 02:30 slot", ["0230 slot"]) == 1.0
    assert exact_match("at 02:30", ["02:30"]) == 0.0
    # prediction "nightly at 0230" vs gold "0230": common 1, precision 1/3, recall 1 -> F1 0.5
    assert token_f1("nightly at 02:30", ["02:30"]) == pytest.approx(0.5)
    assert token_f1("no overlap", ["02:30"]) == 0.0
    assert contains_gold("Backups run nightly at 02:30.", ["02:30", "half past two"]) == 1.0


def test_top_rows_matches_a_full_sort() -> None:
    rng = np.random.default_rng(5)
    scores = np.round(rng.random(5000), 2).astype(np.float32)  # many ties
    scores[rng.random(5000) < 0.5] = 0.0
    order = np.argsort(-scores, kind="stable")
    for k in (1, 10, 100, 6000):
        expected = [(int(r), float(scores[r])) for r in order[:k] if scores[r] > 0]
        found = top_rows(scores, k)
        assert [s for _, s in found] == [s for _, s in expected]
        assert len(found) == len(expected)
    assert top_rows(scores, 0) == []
