"""Citations the app can stand behind: every [n] in an answer must name a retrieved source."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chains.evidence import Evidence

_GROUP = re.compile(r"\[(\s*\d+(?:\s*[,;]\s*\d+)*\s*)\]")


@dataclass(frozen=True)
class CheckedCitations:
    """The answer with citations to missing sources removed, what it cites, what was removed."""

    text: str
    cited: tuple[int, ...]
    removed: tuple[int, ...]


def check_citations(text: str, source_count: int) -> CheckedCitations:
    """Keep ``[n]`` (and ``[n, m]``) only for 1 <= n <= ``source_count``."""
    cited: list[int] = []
    removed: list[int] = []

    def keep_valid(match: re.Match[str]) -> str:
        numbers = [int(part) for part in re.split(r"[,;]", match.group(1))]
        valid = [n for n in numbers if 1 <= n <= source_count]
        removed.extend(n for n in numbers if n not in valid)
        cited.extend(n for n in valid if n not in cited)
        return f"[{', '.join(map(str, valid))}]" if valid else ""

    cleaned = _GROUP.sub(keep_valid, text)
    cleaned = re.sub(r"[ \t]+([.,;:!?])", r"\1", cleaned)
    cleaned = re.sub(r"[ \t]{2,}", " ", cleaned).strip()
    return CheckedCitations(cleaned, tuple(cited), tuple(dict.fromkeys(removed)))


def credited_sources(checked: CheckedCitations, evidence: Sequence[Evidence]) -> tuple[int, ...]:
    """The sources an answer is credited with: those it cites, else those of its evidence.

    An answer that cites nothing is credited with the sources whose sentences were picked
    as its evidence; an empty answer with none.
    """
    if checked.cited:
        return checked.cited
    if not checked.text:
        return ()
    return tuple(sorted({item.source_number for item in evidence}))
