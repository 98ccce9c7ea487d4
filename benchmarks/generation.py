"""Generation benchmark: the embedded SmolLM2-135M through plain LangChain and through ragkit.

Both answer the same questions of the project's QA set (benchmarks/qa) over the same
retrieved sources of data/, greedy, up to --max-tokens tokens, streamed. Baseline:
langchain-community's ``ChatLlamaCpp`` on the same GGUF file with its defaults (n_batch 8,
4 threads by llama.cpp's choice) except n_ctx, raised from 512 to 4096 so the sources fit.
ragkit: ``LlamaCppChat`` as `rag ask` builds it, with the foundation's full prompt and with
the small-model prompt ragkit uses for this model. Each row: model load seconds, time to
first token (prompt evaluation), prompt tokens/s, generated tokens/s after the first token.

On CPUs with Intel AMX (this machine) llama.cpp's AMX weight repacking crashes the process,
so the baseline loads under the same workaround as ragkit (``app.models.llamacpp``); without it,
plain LangChain cannot answer at all here.

    python benchmarks/generation.py [--questions 20] [--max-tokens 128]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from langchain_core.messages import BaseMessage, HumanMessage  # noqa: E402

from app import Rag  # noqa: E402
from app.config.settings import DEFAULT_LLAMACPP_MODEL  # noqa: E402
from app.evaluation import load_beir  # noqa: E402
from app.models.llamacpp import LlamaCppChat, _cpu_flags, _plain_cpu_buffers, cpu_has_amx  # noqa: E402
from app.models.llms import LlmChoice, build_llm, gguf_path  # noqa: E402
from app.models.styles import SMALL_MODEL_LIMITS, answer_style  # noqa: E402
from chains.qa import FULL_STYLE, AnswerStyle, context_of, keep_relevant  # noqa: E402

QA_DIR = ROOT / "benchmarks" / "qa"


@dataclass
class Row:
    """Timings of one engine over all questions."""

    name: str
    load: float
    first_token: list[float]
    prompt_rate: list[float]
    decode_rate: list[float]


def prompts(rag: Rag, questions: list[str], style: AnswerStyle) -> list[list[BaseMessage]]:
    """The chat messages the answer chain would send for each question."""
    retriever = rag.retriever()
    messages = []
    for question in questions:
        docs = keep_relevant(retriever.invoke(question), rag.settings.min_score)
        context = context_of(style).invoke({"question": question, "docs": docs})
        value = style.prompt.invoke({"context": context, "question": question, "history": []})
        messages.append(value.to_messages())
    return messages


def measure(
    name: str,
    load: Callable[[], Any],
    stream: Callable[[Any, list[BaseMessage]], Iterator[str]],
    count_tokens: Callable[[Any, str], int],
    batches: list[list[BaseMessage]],
) -> Row:
    """Load the engine, answer a greeting to warm it up, then time every question."""
    started = time.perf_counter()
    engine = load()
    loaded = time.perf_counter() - started
    "".join(stream(engine, [HumanMessage("Hello")]))
    row = Row(name, loaded, [], [], [])
    for messages in batches:
        prompt_tokens = count_tokens(engine, "\n".join(m.text for m in messages))
        began = time.perf_counter()
        first: float | None = None
        pieces = []
        for piece in stream(engine, messages):
            first = first or time.perf_counter()
            pieces.append(piece)
        ended = time.perf_counter()
        first = first or ended
        generated = count_tokens(engine, "".join(pieces))
        row.first_token.append(first - began)
        row.prompt_rate.append(prompt_tokens / (first - began))
        if generated > 1 and ended > first:
            row.decode_rate.append((generated - 1) / (ended - first))
        print(f"{name}: {first - began:.2f} s, {generated} tokens", file=sys.stderr, flush=True)
    return row


def main() -> None:
    """Build the prompts, run both engines, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args()
    dataset = load_beir(QA_DIR)
    questions = list(dataset.queries.values())[: args.questions]
    model_path = str(gguf_path(DEFAULT_LLAMACPP_MODEL))
    with tempfile.TemporaryDirectory(prefix="ragkit-generation-") as folder:
        rag = Rag.from_settings(index_dir=Path(folder) / "index", llm_provider="none")
        rag.ingest(ROOT / "data")
        full = prompts(rag, questions, FULL_STYLE)
        small = prompts(rag, questions, answer_style(True))

    def langchain() -> Any:
        from langchain_community.chat_models import ChatLlamaCpp

        with _plain_cpu_buffers(cpu_has_amx(_cpu_flags())):
            return ChatLlamaCpp(
                model_path=model_path,
                n_ctx=4096,
                max_tokens=args.max_tokens,
                temperature=0.0,
                verbose=False,
            )

    def ragkit(limits: Any = None) -> Callable[[], Any]:
        def build() -> Any:
            choice = LlmChoice("llamacpp", DEFAULT_LLAMACPP_MODEL, "benchmark")
            chat = build_llm(rag.settings, choice, limits)
            assert isinstance(chat, LlamaCppChat)
            chat = chat.model_copy(update={"temperature": 0.0, "max_tokens": args.max_tokens})
            chat.loaded()
            return chat

        return build

    def stream(engine: Any, messages: list[BaseMessage]) -> Iterator[str]:
        for chunk in engine.stream(messages):
            if chunk.text:
                yield chunk.text

    def lc_tokens(engine: Any, text: str) -> int:
        return len(engine.client.tokenize(text.encode("utf-8"), add_bos=False))

    def ragkit_tokens(engine: Any, text: str) -> int:
        return len(engine.loaded().llama.tokenize(text.encode("utf-8"), add_bos=False))

    rows = [
        measure("LangChain ChatLlamaCpp", langchain, stream, lc_tokens, full),
        measure("ragkit, full prompt", ragkit(), stream, ragkit_tokens, full),
        measure("ragkit, small prompt", ragkit(SMALL_MODEL_LIMITS), stream, ragkit_tokens, small),
    ]
    print(
        f"{len(questions)} questions, embedded {DEFAULT_LLAMACPP_MODEL}, greedy, up to "
        f"{args.max_tokens} tokens, {os.cpu_count()} CPUs; medians"
    )
    print(f"{'engine':<26}{'load s':>8}{'ttft s':>9}{'prompt tok/s':>14}{'gen tok/s':>11}")
    for row in rows:
        print(
            f"{row.name:<26}{row.load:>8.2f}{statistics.median(row.first_token):>9.2f}"
            f"{statistics.median(row.prompt_rate):>14.0f}"
            f"{statistics.median(row.decode_rate or [0.0]):>11.1f}"
        )


if __name__ == "__main__":
    main()
