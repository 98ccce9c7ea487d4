"""Schemathesis against the server's own /openapi.json: no 5xx, no response off its schema.

Bounded: a few examples an operation and no deadline per example (the models run on CPU).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

from tests.integration.conftest import rag_env
from tests.support.rag_server import rag_server

EXAMPLES = 12


@pytest.fixture(scope="module")
def served_schema(sample_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    work = tmp_path_factory.mktemp("schema")
    index = work / "index"
    shutil.copytree(sample_index, index)
    env = rag_env(index, XDG_DATA_HOME=str(work / "data"), RAG_SERVE_QUEUE="64")
    with rag_server(env, work / "server.log") as base:
        yield schemathesis.openapi.from_url(f"{base}/openapi.json")


def test_every_operation_keeps_to_its_schema(served_schema: Any) -> None:
    operations = [result.ok() for result in served_schema.get_all_operations()]
    assert len(operations) >= 10
    failures = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            case.call_and_validate(
                checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
                timeout=120,
            )

        try:
            check()
        except Exception as error:  # one report for every operation that fails
            failures.append(f"{operation.label}: {str(error)[:2000]}")
    assert not failures, "\n\n".join(failures)
