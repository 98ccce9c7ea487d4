"""How answers look in a terminal or a pipe: streamed text, Markdown, sources, evidence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from app.answers import Answer, AnswerStream, Source


def show_answer(stream: AnswerStream, out: TextIO, *, live: bool, markdown: bool) -> Answer:
    """Print the answer as it arrives (``live``) or at the end; Markdown on a terminal."""
    if markdown:
        return _show_markdown(stream, out, live)
    for piece in stream:
        if live:
            out.write(piece)
            out.flush()
    answer = stream.answer
    if not live and answer.text:
        out.write(answer.text)
    if answer.text:
        out.write("\n")
    out.flush()
    return answer


def _show_markdown(stream: AnswerStream, out: TextIO, live: bool) -> Answer:
    from rich.console import Console
    from rich.live import Live
    from rich.markdown import Markdown

    console = Console(file=out)
    text = ""
    if live:
        with Live(Markdown(""), console=console, refresh_per_second=8, transient=False) as view:
            for piece in stream:
                text += piece
                view.update(Markdown(text))
    answer = stream.answer
    if not live and answer.text:
        console.print(Markdown(answer.text))
    return answer


def footer_lines(answer: Answer, compact: bool) -> list[str]:
    """Sources, citation notes, evidence, or the closest passages when nothing was relevant."""
    if not answer.sources and answer.closest:
        lines = ["Closest passages (not close enough to answer; --force asks the model anyway):"]
        lines += [f"  {passage_line(n, s)}" for n, s in enumerate(answer.closest, start=1)]
        return lines
    if compact:
        cited = ", ".join(f"[{n}] {s.location}" for n, s in enumerate(answer.sources, start=1))
        lines = [f"Sources: {cited}"] if cited else []
    else:
        lines = ["", "Sources:"] if answer.sources else []
        quotes = {item.source_number: item for item in answer.cited_quotes}
        for number, source in enumerate(answer.sources, start=1):
            mark = ", cited" if number in answer.cited else ""
            lines.append(
                f"  [{number}] {source.location} (chunk {source.chunk}, "
                f"score {source.score:.2f}{mark})"
            )
            if number in quotes:
                lines.append(f'      "{" ".join(quotes[number].text.split())}"')
    lines += [
        f"  note: the answer cited [{n}], which is not a retrieved source"
        for n in answer.removed_citations
    ]
    evidence = answer.evidence[:1] if compact else answer.evidence
    if evidence and not compact:
        lines += ["", "Evidence:"]
    for item in evidence:
        quote = " ".join(item.text.split())
        prefix = "Evidence " if compact else "  "
        lines.append(f'{prefix}[{item.source_number}] {item.location} "{quote}"')
    return lines


def passage_line(number: int, source: Source) -> str:
    """One retrieved passage: location, chunk, score and a snippet."""
    snippet = " ".join(source.text.split())
    if len(snippet) > 200:
        snippet = snippet[:199] + "…"
    where = f"[{number}] {source.location} (chunk {source.chunk}, score {source.score:.2f})"
    return f"{where}\n    {snippet}"


def passage_lines(sources: Sequence[Source]) -> list[str]:
    """Retrieved passages with a snippet each (retrieval only)."""
    if not sources:
        return ["No sources found: the index is empty."]
    return [passage_line(number, source) for number, source in enumerate(sources, start=1)]
