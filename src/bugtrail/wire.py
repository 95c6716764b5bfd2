"""The trace wire format (Pydantic v2), shared by the SDK, the API and export.

Field names follow the seed plan. Only pydantic is imported here so the SDK can use it without the server.
"""

from __future__ import annotations

import posixpath
import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

# Pydantic only, like this module (the recorder path imports wire).
from bugtrail.qa.result import QaResult

EventType = Literal["edit", "command", "reasoning"]
ReasoningType = Literal["hypothesis", "alternative", "rationale", "observation", "outcome", "plan"]
Confidence = Literal["low", "medium", "high"]
TraceStatus = Literal["pending", "queued", "running", "completed", "failed"]
Role = Literal["developer", "reviewer", "admin"]

REASONING_TYPES: tuple[str, ...] = ReasoningType.__args__  # type: ignore[attr-defined]
TRACE_STATUSES: tuple[str, ...] = TraceStatus.__args__  # type: ignore[attr-defined]
SHA_RE = re.compile(r"^[0-9a-f]{40}$")


def check_repo_relative_path(path: str) -> str:
    """A repo-relative POSIX path: no absolute paths, no '..', no NUL, no backslashes."""
    if not path or not path.strip():
        raise ValueError("file must be a non-empty repo-relative path")
    if "\x00" in path or "\\" in path:
        raise ValueError("file must not contain NUL or backslash characters")
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        raise ValueError(f"file must be repo-relative, not absolute: {path!r}")
    parts = path.split("/")
    if ".." in parts:
        raise ValueError(f"file must not contain '..': {path!r}")
    normalised = posixpath.normpath(path)
    if normalised in (".", "") or normalised.startswith("../"):
        raise ValueError(f"file does not name a file inside the repository: {path!r}")
    return path


MAX_DETAILS_DEPTH = 32


def check_nesting(value: Any, limit: int = MAX_DETAILS_DEPTH) -> None:
    """Iteratively (no recursion to exhaust) refuse JSON nested deeper than `limit`."""
    if isinstance(value, dict) and not any(isinstance(v, (dict, list)) for v in value.values()):
        return  # the usual flat details: nothing to walk
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise ValueError(f"details are nested deeper than {limit} levels")
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)


class _Details(BaseModel):
    # Unknown keys inside details are kept (the recorder or a plugin may add context).
    model_config = ConfigDict(extra="allow")

    @model_validator(mode="before")
    @classmethod
    def _bounded_nesting(cls, value: Any) -> Any:
        # Deeply nested extra keys made serialisation fail with a 500 (pydantic's depth limit).
        check_nesting(value)
        return value


class EditDetails(_Details):
    file: str = Field(description="repo-relative path of the one file this edit changes")
    diff: str = Field(
        default="", description="unified diff of that file against its state after the previous edit"
    )
    change: str | None = Field(default=None, description="short summary of the change")

    @field_validator("file")
    @classmethod
    def _check_file(cls, value: str) -> str:
        return check_repo_relative_path(value)


class CommandDetails(_Details):
    command: str
    output: str = ""
    working_directory: str = ""
    exit_code: int | None = None
    duration_ms: int | None = Field(default=None, ge=0)


class ReasoningDetails(_Details):
    text: str = Field(min_length=1)
    reasoning_type: ReasoningType
    confidence: Confidence | None = None
    refers_to: list[uuid.UUID] | None = None


class _EventBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: uuid.UUID | None = Field(default=None, description="client-generated; makes retries idempotent")
    timestamp: AwareDatetime = Field(description="ISO 8601 with a timezone offset")


class EditEvent(_EventBase):
    type: Literal["edit"]
    details: EditDetails


class CommandEvent(_EventBase):
    type: Literal["command"]
    details: CommandDetails


class ReasoningEvent(_EventBase):
    type: Literal["reasoning"]
    details: ReasoningDetails


EventIn = Annotated[EditEvent | CommandEvent | ReasoningEvent, Field(discriminator="type")]


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[EventIn] = Field(min_length=1)


MAX_ENV_PACKAGES = 5_000
MAX_ENV_ENTRY_CHARS = 1_000
MAX_ENV_TOTAL_CHARS = 512 * 1024
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _printable(value: str) -> str:
    """Environment entries are shown and used verbatim (never redacted), so they must be one plain line."""
    found = _CONTROL_CHARS.search(value)
    if found:
        raise ValueError(f"contains a control character ({found.group()!r} at offset {found.start()})")
    return value


# Length first (cheap: a 10 MB entry is refused before it is scanned), then printability.
_Printable = AfterValidator(_printable)
EnvShort = Annotated[str, StringConstraints(max_length=40), _Printable]
EnvLine = Annotated[str, StringConstraints(max_length=200), _Printable]
EnvName = Annotated[str, StringConstraints(min_length=1, max_length=200), _Printable]
EnvNote = Annotated[str, StringConstraints(max_length=500), _Printable]
EnvPackage = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ENV_ENTRY_CHARS), _Printable]


class RecordedEnvironment(BaseModel):
    """The developer's Python environment when they debugged, captured by the recorder (`bugtrail start`).

    QA prefers it to detection: the packages the developer's own commands ran with, pinned the way
    `pip freeze` prints them. Local paths and VCS URLs are kept verbatim and never fetched blindly.
    """

    model_config = ConfigDict(extra="forbid")

    python_version: EnvShort | None = Field(default=None, description='e.g. "3.11.7"')
    implementation: EnvShort | None = Field(default=None, description='e.g. "CPython"')
    platform: EnvLine | None = Field(default=None, description="platform.platform()")
    packages: list[EnvPackage] = Field(
        default_factory=list,
        max_length=MAX_ENV_PACKAGES,
        description="`pip freeze` lines of the interpreter the developer's commands use, minus the project",
    )
    project: list[EnvName] = Field(
        default_factory=list,
        max_length=50,
        description="distribution names of the project under test (left out of packages)",
    )
    captured_by: EnvLine | None = Field(default=None, description="recorder name and version")
    notes: list[EnvNote] = Field(
        default_factory=list,
        max_length=20,
        description="what the capture could not do (interpreter not found, timed out, entries left out)",
    )

    @model_validator(mode="after")
    def _total_size(self) -> RecordedEnvironment:
        total = sum(len(entry) + 1 for entry in (*self.packages, *self.project, *self.notes))
        if total > MAX_ENV_TOTAL_CHARS:
            raise ValueError(
                f"environment is {total} characters in all; at most {MAX_ENV_TOTAL_CHARS} are accepted"
            )
        return self


class TraceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    trace_id: uuid.UUID | None = None
    developer_id: str | None = Field(
        default=None, max_length=200, description="taken from the API key when absent"
    )
    repo_url: str = Field(min_length=1, max_length=2000)
    bug_description: str = Field(min_length=1)
    base_commit: str | None = Field(default=None, description="40-hex git sha")
    test_command: str | None = Field(default=None, max_length=4000)
    environment: RecordedEnvironment | None = Field(
        default=None, description="the developer's Python environment, as the recorder captured it"
    )
    events: list[EventIn] = Field(default_factory=list)
    qa_results: None = Field(default=None, description="always null on create; filled by QA")

    @field_validator("base_commit")
    @classmethod
    def _check_sha(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lower()
        if not SHA_RE.match(value):
            raise ValueError("base_commit must be a full 40-hex git commit sha")
        return value


class EventRead(BaseModel):
    event_id: uuid.UUID
    seq: int
    type: EventType
    timestamp: datetime
    details: dict[str, Any]
    redactions: int = Field(default=0, description="secrets the server redacted from this event's text")


class TraceSummary(BaseModel):
    trace_id: uuid.UUID
    developer_id: str
    repo_url: str
    bug_description: str
    base_commit: str | None = None
    test_command: str | None = None
    status: TraceStatus
    event_count: int
    created_at: datetime
    updated_at: datetime
    finalized_at: datetime | None = None
    tests_passed: bool | None = None
    resolved: bool | None = None
    reasoning_score: float | None = None


class TraceConsent(BaseModel):
    """The developer's consent, as of the read: when it was given (null: pending) and whether the traces
    may leave the organisation."""

    given_at: datetime | None = None
    external_use: bool = False


CURATION_VERSION = 1


class Curation(BaseModel):
    """Curation metadata, computed from the events when the trace is finalized (traces.curation)."""

    version: int = CURATION_VERSION
    started_at: datetime | None = Field(default=None, description="first event (UTC)")
    ended_at: datetime | None = Field(default=None, description="last event (UTC)")
    time_on_task_s: float = Field(default=0.0, description="first to last event")
    active_time_s: float = Field(
        default=0.0, description="time on task without idle gaps longer than active_gap_s"
    )
    active_gap_s: float = Field(default=300.0, description="the idle threshold used (BUGTRAIL_ACTIVE_GAP_S)")
    events: int = 0  # a number: traces.stream splices the event list at the first `"events":[]`
    edits: int = 0
    commands: int = 0
    failed_commands: int = Field(default=0, description="commands with a non-zero exit code")
    test_runs: int = Field(default=0, description="commands running the test command or a test runner")
    test_runs_failed: int = Field(default=0, description="test runs with a non-zero exit code")
    notes: dict[str, int] = Field(default_factory=dict, description="reasoning notes by reasoning_type")
    files_touched: int = Field(default=0, description="distinct files the edits changed")
    files: list[str] = Field(default_factory=list, description="the first 100 of those files, sorted")
    lines_added: int = 0
    lines_removed: int = 0
    lines_touched: int = Field(default=0, description="lines added plus lines removed")
    binary_edits: int = Field(default=0, description="edits whose diff is a binary patch")
    languages: list[str] = Field(
        default_factory=list, description="languages of the touched files, most lines first"
    )
    out_of_order_events: int = Field(
        default=0, description="events whose timestamp is earlier than an event recorded before them"
    )


class TraceRead(TraceSummary):
    environment: RecordedEnvironment | None = None
    licence: str = Field(
        default="internal",
        description="the licence this trace is exported under: the developer's, once consent is given; "
        'else "internal"',
    )
    consent: TraceConsent | None = Field(default=None, description="null: no consent recorded")
    curation: Curation | None = None
    # Authenticity flags from the newest QA result (qa_results.upstream_match, qa_results.duplicate_of).
    upstream_commit: str | None = Field(
        default=None, description="a later upstream commit near-identical to this trace's final patch"
    )
    duplicate_of: str | None = Field(
        default=None, description="the earliest earlier trace of the same repository and bug with this patch"
    )
    events: list[EventRead]
    qa_results: QaResult | None = None


class TraceCreated(BaseModel):
    trace_id: uuid.UUID
    status: TraceStatus
    event_count: int
    created: bool = Field(description="false when an identical trace already existed")


class AppendResult(BaseModel):
    trace_id: uuid.UUID
    accepted: int = Field(description="events stored by this request")
    duplicates: int = Field(description="events already stored with the same event_id and content")
    event_ids: list[uuid.UUID]
    event_count: int


class FinalizeResult(BaseModel):
    trace_id: uuid.UUID
    status: TraceStatus
    job_id: int | None = None
    already_finalized: bool = False
    qa_results: QaResult | None = None


class TraceList(BaseModel):
    items: list[TraceSummary]
    next_cursor: str | None = None
