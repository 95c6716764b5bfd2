"""Schemathesis against the app's own OpenAPI schema: no 5xx, every response matches the schema.

Run with an admin key (reaches every operation) and with a developer key (the role most callers have).
Bounded: BUGTRAIL_FUZZ_EXAMPLES examples per operation (default 10) so the suite stays fast; raise it to
hunt deeper.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES = int(os.environ.get("BUGTRAIL_FUZZ_EXAMPLES", "10"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def api_schema(app):  # type: ignore[no-untyped-def]
    return schemathesis.openapi.from_asgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


def _fuzz(case, headers: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    if case.query and "wait" in case.query:
        # finalize ?wait= legitimately blocks up to an hour for QA (no worker runs here): keep it short.
        case.query["wait"] = 0.3
    case.call_and_validate(headers=headers, checks=CHECKS)


@schema.exclude(method="DELETE", path_regex=r"^/api/keys/").parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_fuzz_as_admin(case, keys) -> None:  # type: ignore[no-untyped-def]
    # Revoking keys is excluded here: the fuzzer would revoke its own admin key and test nothing further.
    _fuzz(case, keys.admin)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_fuzz_as_developer(case, keys) -> None:  # type: ignore[no-untyped-def]
    _fuzz(case, keys.alice)
