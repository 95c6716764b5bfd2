"""The QA result: one typed, versioned document per QA run (qa_result.result, TraceRead.qa_results).

Built in one place (qa.pipeline.build_result); read by the API, the dashboard, export, webhooks and the judge.
Stored documents of an older schema are upgraded when loaded (`_upgrade`), so history stays readable.
Unknown keys are kept (extra="allow"): a newer writer's fields survive a read-modify-write by an older reader.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bugtrail.qa.environments.schemas import EnvironmentInfo

RESULT_SCHEMA = 3
ErrorKind = Literal["environment", "infrastructure", "input"]
ERROR_KINDS: tuple[str, ...] = ("environment", "infrastructure", "input")
QA_OUTCOMES: tuple[str, ...] = ("completed", "skipped", "error", "judged_only")
# Edit-application methods that reproduce the recorded diff exactly (anything else needed fuzz or --reject).
EXACT_METHODS = frozenset({"git-apply", "delete", "rename", "empty"})


class RunSummary(BaseModel):
    """One phase's test run (the runner's run.json), plus the before run's output tail."""

    model_config = ConfigDict(extra="allow")

    phase: str
    command: str = ""
    image: str = ""
    exit_code: int | None = None
    timed_out: bool = False
    oom_killed: bool = False
    duration_s: float = 0.0
    output_bytes: int = 0
    output_truncated: bool = False
    junit: bool = False
    reruns: int = Field(default=0, description="extra runs of this phase (BUGTRAIL_QA_RERUNS)")
    output_tail: str | None = None


class UpstreamMatch(BaseModel):
    """A later commit of the repository whose change is near-identical to the trace's final patch."""

    commit: str
    similarity: float = Field(description="changed-line similarity, 0..1 (qa.patch_lines.similarity)")


class Checkpoint(BaseModel):
    """The tests at one recorded test run of the session (qa.checkpoints)."""

    model_config = ConfigDict(extra="allow")

    event_id: str = Field(description="the command event that ran the tests")
    seq: int
    edits: int = Field(default=0, description="edits recorded before it (applied to base_commit)")
    patch_applied: bool | None = None
    passed: list[str] = Field(default_factory=list, description="test ids that passed, sorted")
    failed: list[str] = Field(default_factory=list, description="test ids that failed or errored, sorted")
    fail_to_pass_done: bool | None = Field(
        default=None, description="every fail-to-pass test passes here; null without fail-to-pass tests"
    )
    exit_code: int | None = None


class QaResult(BaseModel):
    """The qa_results document. Seed-plan fields first, then the verdict's detail."""

    # Stored and served as `schema` (a field of that name would shadow BaseModel.schema).
    model_config = ConfigDict(
        extra="allow", validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )

    schema_version: int = Field(default=RESULT_SCHEMA, alias="schema")
    outcome: str = Field(description="completed | skipped | error | judged_only")
    tests_passed: bool | None = None
    reasoning_score: float | None = None
    judge_comments: str | None = None
    test_output: str | None = None
    qa_timestamp: str | None = Field(default=None, description="ISO 8601, UTC")
    resolved: bool | None = None
    error_kind: ErrorKind | None = Field(
        default=None, description="set when outcome is error: environment | infrastructure | input"
    )
    error: str | None = None
    exit_code_note: str | None = Field(
        default=None, description="why the after run's non-zero exit code was not a test failure"
    )
    fail_to_pass: list[str] = Field(default_factory=list)
    pass_to_pass: list[str] = Field(default_factory=list)
    failed_after: list[str] = Field(default_factory=list)
    pass_to_fail: list[str] = Field(default_factory=list)
    flaky: list[str] = Field(default_factory=list, description="tests whose outcome differed between reruns")
    grading_method: str | None = None
    timed_out: bool = False
    patch_applied: bool | None = None
    patch_exact: bool | None = Field(
        default=None, description="false when any edit needed a fuzzy apply (patch --fuzz, --reject)"
    )
    patch_report: list[dict[str, Any]] = Field(default_factory=list)
    environment: EnvironmentInfo | None = None
    test_command: str | None = None
    runner_image: str | None = None
    test_duration_s: float | None = None
    tests_wall_s: float | None = None
    setup_s: float | None = None
    before: RunSummary | None = None
    after: RunSummary | None = None
    judge: dict[str, Any] | None = None
    upstream_match: UpstreamMatch | None = Field(
        default=None, description="a later upstream commit near-identical to the final patch (a flag)"
    )
    duplicate_of: str | None = Field(default=None, description="the earliest earlier trace this duplicates")
    checkpoints: list[Checkpoint] | None = Field(
        default=None, description="per recorded test run (BUGTRAIL_QA_CHECKPOINTS); null when off"
    )
    checkpoints_error: str | None = None
    job_id: int | None = None
    attempt: int | None = None
    log_dir: str | None = None
    qa_result_id: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any) -> Any:
        if isinstance(data, dict) and int(data.get("schema") or 1) < 2:
            data = upgrade_v1(data)
        if isinstance(data, dict) and int(data.get("schema") or 1) < 3:
            data = upgrade_v2(data)
        return data

    def document(self) -> dict[str, Any]:
        """JSON-ready, with the stored key names (`schema`)."""
        return self.model_dump(mode="json")


def patch_exact_of(report: list[dict[str, Any]]) -> bool | None:
    """True when every edit applied with an exact method; None when nothing was applied (no report)."""
    if not report:
        return None
    return all(entry.get("applied") and entry.get("method") in EXACT_METHODS for entry in report)


def upgrade_v1(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 1 (a dict built in the pipeline, before error kinds) -> schema 2.

    Schema 1 had two kinds of `error`: the trace could not be replayed (base_commit missing) or the
    machinery failed. Its verdicts are kept as they were graded; nothing is re-graded here.
    """
    upgraded = dict(data)
    upgraded["schema"] = 2
    if upgraded.get("outcome") == "error" and not upgraded.get("error_kind"):
        error = str(upgraded.get("error") or "")
        upgraded["error_kind"] = "input" if "base_commit" in error else "infrastructure"
    upgraded.setdefault("patch_exact", patch_exact_of(list(upgraded.get("patch_report") or [])))
    upgraded.setdefault("flaky", [])
    for phase in ("before", "after"):
        run = upgraded.get(phase)
        if isinstance(run, dict) and "phase" not in run:
            upgraded[phase] = {**run, "phase": phase}
    return upgraded


def upgrade_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 2 -> 3: the authenticity fields and checkpoints did not exist; nothing was checked, so
    upstream_match and duplicate_of are null (unknown, not "no match") and checkpoints null (off)."""
    return {**data, "schema": 3}


def load_result(document: dict[str, Any] | None) -> QaResult | None:
    """A stored document (any schema) as the current model."""
    return None if document is None else QaResult.model_validate(document)
