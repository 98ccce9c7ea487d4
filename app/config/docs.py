"""Render .env.example and the README's configuration table from the settings specs.

Run ``python -m app.config.docs`` to rewrite .env.example and print the table; a unit
test keeps both in step with ``app.config.settings.SPECS``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from app.config.settings import SPECS

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


def main() -> None:
    """Rewrite .env.example in the given folder (default: here) and print the table."""
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd()
    (root / ".env.example").write_text(render_env_example(), encoding="utf-8")
    sys.stdout.write(render_settings_table())


if __name__ == "__main__":
    main()
