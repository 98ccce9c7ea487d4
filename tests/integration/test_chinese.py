"""Chinese questions over Chinese notes with the default English embedding model."""

from __future__ import annotations

import pytest

from app import Rag

pytestmark = pytest.mark.integration

NOTES = {
    "量化.md": "# 量化\n\n量化是用更少的位数保存模型权重。Q4_K_M 在速度和质量之间比较均衡，"
    "Q8_0 质量最好但文件最大，Q2 级别的量化回答质量明显下降。",
    "内存.md": "# 内存需求\n\n七十亿参数的模型在四位量化下大约需要四到五GB内存，"
    "十三亿参数的小模型只需要一GB左右。上下文越长，缓存占用的内存也越多。",
    "备份.md": "# 备份计划\n\n每天凌晨两点半用 restic 把笔记备份到家里的网络存储，"
    "每个季度做一次恢复演练，随机挑三个文件核对校验和。",
    "代理.md": "# 代理设置\n\n如果开了代理，要把 127.0.0.1 和 localhost 加到 NO_PROXY，"
    "否则发往本地 Ollama 服务的请求也会被转发到代理，出现 502 错误。",
    "检索.md": "# 中文检索\n\n英文向量模型对中文理解很差。用结巴分词之后做 BM25 关键词检索，"
    "或者换成多语言向量模型，比如 bge-small-zh-v1.5。",
    "咖啡.md": "# 咖啡\n\n手冲咖啡的水温一般在九十到九十三度之间，粉水比大约是一比十五，"
    "研磨度比意式浓缩粗一些。",
}

QUESTIONS = {
    "七十亿参数的模型需要多少内存？": "内存.md",
    "哪种量化等级在速度和质量之间比较均衡？": "量化.md",
    "备份在什么时候运行？": "备份.md",
    "为什么本地 Ollama 会返回 502 错误？": "代理.md",
    "英文向量模型检索中文效果怎么样？": "检索.md",
    "手冲咖啡的水温应该是多少度？": "咖啡.md",
}


@pytest.fixture(scope="module")
def rag(tmp_path_factory: pytest.TempPathFactory) -> Rag:
    root = tmp_path_factory.mktemp("zh")
    docs = root / "notes"
    docs.mkdir()
    for name, text in NOTES.items():
        (docs / name).write_text(text, encoding="utf-8")
    instance = Rag.from_settings(index_dir=root / "index", llm_provider="none")
    instance.ingest(docs)
    return instance


@pytest.mark.parametrize(("question", "expected"), QUESTIONS.items())
def test_chinese_questions_find_their_note_in_the_top_three(
    rag: Rag, question: str, expected: str
) -> None:
    sources = [source.source for source in rag.retrieve(question, k=3)]
    assert expected in sources, sources


def test_dense_alone_is_weaker_than_hybrid_on_chinese(rag: Rag) -> None:
    def hits(mode: str) -> int:
        retriever = rag.retriever(k=1, mode=mode)
        return sum(
            retriever.invoke(question)[0].metadata["source"] == expected
            for question, expected in QUESTIONS.items()
        )

    hybrid, dense, bm25 = hits("hybrid"), hits("dense"), hits("bm25")
    assert hybrid >= max(dense, bm25)
    print(
        f"top-1 hits on {len(QUESTIONS)} Chinese questions: hybrid {hybrid}, "
        f"dense {dense}, bm25 {bm25}"
    )
