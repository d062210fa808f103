"""schemathesis generates requests from the OpenAPI spec against a real server: no 5xx.

The server runs the fake engine (fast) with the in-process project queue; the number of
generated cases is written to ``test-artifacts/schemathesis.json``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.e2e.test_operations import Server, _start, _stop

pytestmark = pytest.mark.e2e

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
_cases: dict[str, int] = {}


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = _start(tmp_path_factory.mktemp("fuzz"), VOXSERVE_RATE_LIMIT_REQUESTS_PER_MINUTE="0",
                    VOXSERVE_RATE_LIMIT_CHARS_PER_MINUTE="0")
    yield server
    _stop(server)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "schemathesis.json").write_text(json.dumps(
        {"cases": sum(_cases.values()), "by_operation": _cases}, indent=2))


def test_no_server_errors(fuzz_server: Server) -> None:
    """Every operation, up to 30 generated cases each: never a 5xx."""
    api = schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json")
    failures: list[str] = []
    for result in api.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
        def run(case: Any) -> None:
            response = case.call(timeout=60)
            label = f"{case.method} {case.path}"
            _cases[label] = _cases.get(label, 0) + 1
            if response.status_code >= 500:
                failures.append(f"{label}: {response.status_code} {response.text[:300]}")

        run()
    assert sum(_cases.values()) > 100
    assert not failures, "\n".join(failures[:20])
