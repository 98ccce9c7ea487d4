"""Render .env.example and the configuration table of docs/configuration.md from the specs.

Run ``python -m app.config.docs`` to rewrite both; a unit test keeps them in step with
``app.config.settings.SPECS``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from app.config.settings import SPECS
from app.errors import error_table

STANDARD_VARIABLES: tuple[tuple[str, str], ...] = (
    ("HF_HUB_OFFLINE", "1 = never contact the Hugging Face hub (local folders and cache only)."),
    ("HF_ENDPOINT", "Hugging Face mirror for downloading other embedding models."),
    ("HTTPS_PROXY", "Proxy for downloads from the Hugging Face hub."),
    ("NO_PROXY", "Hosts reached without the proxy: keep your Ollama host in it."),
)


def render_env_example() -> str:
    """Every setting, commented, with its default; standard variables at the end."""
    lines = [
        "# ragkit settings. Copy to .env and uncomment what you change.",
        "# Precedence: command-line flags > environment > this file > defaults.",
        "",
    ]
    for spec in SPECS:
        lines += [f"# {spec.help}", f"# {spec.env}={spec.default}", ""]
    lines += ["# Standard variables ragkit honours (read by the libraries it uses).", ""]
    for name, help_text in STANDARD_VARIABLES:
        lines += [f"# {help_text}", f"# {name}=", ""]
    return "\n".join(lines).rstrip() + "\n"


def render_settings_table() -> str:
    """The README's configuration table, in the same order as .env.example."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for spec in SPECS:
        default = f"`{spec.default}`" if spec.default else "(see meaning)"
        rows.append(f"| `{spec.env}` | {default} | {spec.help} |")
    for name, help_text in STANDARD_VARIABLES:
        rows.append(f"| `{name}` | (unset) | {help_text} |")
    return "\n".join(rows) + "\n"


def render_error_table() -> str:
    """The errors users can meet, with their exit code and HTTP status."""
    rows = ["| error | exit code | HTTP status | meaning |", "|---|---|---|---|"]
    rows += [
        f"| `{name}` | {exit_code} | {status} | {meaning} |"
        for name, exit_code, status, meaning in error_table()
    ]
    return "\n".join(rows) + "\n"


CONFIGURATION_PAGE = Path("docs") / "configuration.md"
ARCHITECTURE_PAGE = Path("docs") / "architecture.md"


def with_table(page: str, table: str) -> str:
    """The page with the table that has ``table``'s header row replaced (appended if none)."""
    header = table.splitlines()[0]
    lines = page.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip("\n") == header), None)
    if start is None:
        return page.rstrip("\n") + "\n\n" + table
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return "".join([*lines[:start], table, *lines[end:]])


def main() -> None:
    """Rewrite .env.example and the generated tables of docs/ in a folder (default: here)."""
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd()
    (root / ".env.example").write_text(render_env_example(), encoding="utf-8")
    for page, table in (
        (CONFIGURATION_PAGE, render_settings_table()),
        (ARCHITECTURE_PAGE, render_error_table()),
    ):
        path = root / page
        current = path.read_text(encoding="utf-8") if path.is_file() else ""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(with_table(current, table), encoding="utf-8")
    sys.stdout.write(f"wrote .env.example, {CONFIGURATION_PAGE} and {ARCHITECTURE_PAGE}\n")


if __name__ == "__main__":
    main()
