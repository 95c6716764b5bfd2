"""The typed QA result: schema-1 documents load (upgraded), and the document keeps its stored key names."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bugtrail.export.filters import ExportFilters
from bugtrail.qa.result import RESULT_SCHEMA, QaResult, patch_exact_of

SCHEMA_1_COMPLETED = {
    "schema": 1,
    "outcome": "completed",
    "tests_passed": True,
    "reasoning_score": 4.0,
    "judge_comments": "careful",
    "test_output": "3 passed",
    "qa_timestamp": "2026-11-20T10:00:00+00:00",
    "resolved": True,
    "fail_to_pass": ["tests/test_calc.py::test_add"],
    "pass_to_pass": ["tests/test_calc.py::test_sub"],
    "failed_after": [],
    "pass_to_fail": [],
    "grading_method": "junit",
    "timed_out": False,
    "patch_applied": True,
    "patch_report": [
        {"index": 1, "file": "tests/test_calc.py", "applied": True, "method": "git-apply", "is_test": True},
        {"index": 2, "file": "calc.py", "applied": True, "method": "patch-fuzz", "is_test": False},
    ],
    "test_command": "python -m pytest -q",
    "runner_image": "bugtrail-runner:latest",
    "test_duration_s": 1.5,
    "tests_wall_s": 0.9,
    "setup_s": 0.2,
    "before": {"exit_code": 1, "timed_out": False, "junit": True, "output_tail": "1 failed"},
    "after": {"phase": "after", "exit_code": 0, "timed_out": False, "junit": True},
    "error": None,
    "judge": {"judge": "heuristic", "reasoning_score": 4.0},
    "job_id": 7,
    "attempt": 1,
    "log_dir": "/data/qa-logs/x",
    "qa_result_id": 3,
    "previous_judges": [{"judge": "openai", "reasoning_score": 3.0}],
}


def test_schema_1_document_loads_upgraded() -> None:
    result = QaResult.model_validate(SCHEMA_1_COMPLETED)
    assert result.schema_version == RESULT_SCHEMA == 3
    assert result.resolved is True and result.fail_to_pass == ["tests/test_calc.py::test_add"]
    assert result.patch_exact is False  # the source edit needed patch --fuzz
    assert result.flaky == [] and result.error_kind is None and result.environment is None
    assert result.before is not None and result.before.phase == "before" and result.before.exit_code == 1
    document = result.document()
    assert document["schema"] == 3 and "schema_version" not in document
    assert document["previous_judges"] == SCHEMA_1_COMPLETED["previous_judges"]  # unknown keys survive
    assert QaResult.model_validate(document) == result  # a stored schema-3 document round-trips


def test_schema_1_errors_get_an_error_kind() -> None:
    missing = {"schema": 1, "outcome": "error", "error": "base_commit abc123 not found in the repository"}
    infra = {"schema": 1, "outcome": "error", "error": "no Docker daemon is reachable"}
    assert QaResult.model_validate(missing).error_kind == "input"
    assert QaResult.model_validate(infra).error_kind == "infrastructure"
    assert QaResult.model_validate({"outcome": "judged_only"}).error_kind is None


def test_unknown_error_kind_is_refused() -> None:
    with pytest.raises(ValidationError, match="error_kind"):
        QaResult.model_validate({"schema": 2, "outcome": "error", "error_kind": "cosmic rays"})


def test_patch_exact() -> None:
    exact = [{"applied": True, "method": m} for m in ("git-apply", "delete", "rename", "empty")]
    assert patch_exact_of(exact) is True
    assert patch_exact_of([{"applied": True, "method": "git-apply-reject"}]) is False
    assert patch_exact_of([{"applied": False, "method": None}]) is False
    assert patch_exact_of([]) is None


def test_export_filters_name_unknown_outcomes_and_error_kinds() -> None:
    filters = ExportFilters(outcome=["error"], error_kind=["environment,input"], patch_exact=False)
    assert filters.as_record() == {
        "use": "external",
        "outcome": ["error"],
        "error_kind": ["environment", "input"],
        "patch_exact": False,
    }
    with pytest.raises(ValidationError, match="unknown error_kind"):
        ExportFilters(error_kind=["disk"])
    with pytest.raises(ValidationError, match="unknown outcome"):
        ExportFilters(outcome=["done"])


def test_schema_2_document_loads_with_authenticity_fields_unknown() -> None:
    stored = {"schema": 2, "outcome": "completed", "resolved": True, "fail_to_pass": ["t.py::test_x"]}
    result = QaResult.model_validate(stored)
    assert result.schema_version == 3 and result.resolved is True
    # Nothing was checked under schema 2: null means "not checked", and checkpoints were off.
    assert result.upstream_match is None and result.duplicate_of is None and result.checkpoints is None
    document = result.document()
    assert document["schema"] == 3 and document["upstream_match"] is None and document["checkpoints"] is None
