"""The generated docs: tables in docs/ follow the code, and regenerating them is idempotent."""

from __future__ import annotations

from pathlib import Path

from app.config.docs import (
    ARCHITECTURE_PAGE,
    render_error_table,
    render_settings_table,
    with_table,
)
from app.errors import ConfigError, error_table

ROOT = Path(__file__).resolve().parents[2]


def test_the_architecture_page_has_the_error_table_of_the_code() -> None:
    page = (ROOT / ARCHITECTURE_PAGE).read_text(encoding="utf-8")
    assert render_error_table() in page, "run `python -m app.config.docs`"


def test_the_error_table_lists_every_error_once_with_its_codes() -> None:
    rows = {name: (code, status) for name, code, status, _ in error_table()}
    assert len(rows) == len(error_table())
    assert rows["ConfigError"] == (ConfigError.exit_code, ConfigError.http_status) == (2, 400)
    assert {"RagError", "IndexBusyError", "UsageError", "ProviderError"} <= set(rows)


def test_with_table_replaces_only_the_table_and_keeps_the_prose() -> None:
    table = render_settings_table()
    stale = "| variable | default | meaning |\n|---|---|---|\n| `RAG_OLD` | `1` | gone |\n"
    page = f"# Configuration\n\nIntro.\n\n{stale}\nAfter the table.\n"
    updated = with_table(page, table)
    assert updated == f"# Configuration\n\nIntro.\n\n{table}\nAfter the table.\n"
    assert with_table(updated, table) == updated


def test_with_table_appends_a_missing_table() -> None:
    table = render_error_table()
    assert with_table("# Architecture\n", table) == f"# Architecture\n\n{table}"
