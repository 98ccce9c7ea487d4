"""The README's commands are the ones CI runs, and README.md and docs/ link up."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    quick_start = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = quick_start.split("```bash\n")[1:]
    return [block.split("```", 1)[0].strip() for block in blocks]


def test_quick_start_is_two_commands() -> None:
    commands = _readme_commands()
    assert len(commands) == 2
    assert all("\n" not in command for command in commands)
    assert "rag ingest data" in commands[0] and "rag ask" in commands[0]
    assert '".[test]"' in commands[1] and "pytest" in commands[1]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _readme_commands()[1] in ci.splitlines()


def _relative_links(text: str) -> list[str]:
    """Targets of the Markdown links in ``text`` that point inside the repository."""
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    return [target for target in targets if not re.match(r"[a-z][a-z0-9+.-]*:", target)]


def test_readme_is_a_front_page_linking_every_docs_page() -> None:
    readme = ROOT / "README.md"
    assert readme.stat().st_size < 15_000, "README.md is a front page: move details into docs/"
    text = readme.read_text(encoding="utf-8")
    linked = {target.split("#", 1)[0] for target in _relative_links(text)}
    pages = sorted((ROOT / "docs").glob("*.md"))
    assert pages
    for page in pages:
        assert f"docs/{page.name}" in linked, f"README.md does not link docs/{page.name}"


def test_relative_links_point_at_files_that_exist() -> None:
    for document in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = document.read_text(encoding="utf-8")
        for target in _relative_links(text):
            path = target.split("#", 1)[0]
            if not path:
                continue
            assert (document.parent / path).exists(), f"{document.name} links missing {target}"
