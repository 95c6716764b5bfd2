"""One Settings object for the server side; built by get_settings() and passed down, never read at import."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BeforeValidator, Field, ValidationError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MiB = 1024 * 1024

DEFAULT_REPO_ALLOWLIST = [
    "https://github.com/",
    "https://gitlab.com/",
    "https://bitbucket.org/",
    "https://codeberg.org/",
]
DEFAULT_TEST_FILE_PATTERNS = [
    "tests/*",
    "test/*",
    "*/tests/*",
    "test_*.py",
    "*_test.py",
    "conftest.py",
    "*/test_*.py",
    "*/conftest.py",
]


def _json_or_none(value: str) -> Any:
    text = value.strip()
    if text[:1] not in ("[", "{"):
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"looks like JSON but does not parse: {exc.msg} at {exc.pos}") from exc


def parse_csv_list(value: object) -> object:
    """`a,b,c` (blanks dropped) or a JSON list, as list[str]; anything else is left to pydantic to reject."""
    if isinstance(value, str):
        decoded = _json_or_none(value)
        if decoded is not None:
            return decoded
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def parse_csv_map(value: object) -> object:
    """`prefix=value,prefix=value` or a JSON object, as dict[str, str]; each entry needs prefix and value."""
    if not isinstance(value, str):
        return value
    decoded = _json_or_none(value)
    if decoded is not None:
        return decoded
    mapping: dict[str, str] = {}
    for entry in (part.strip() for part in value.split(",")):
        if not entry:
            continue
        prefix, sep, target = (piece.strip() for piece in entry.partition("="))
        if not sep or not prefix or not target:
            raise ValueError(f"entry {entry!r} is not prefix=value")
        if prefix in mapping:
            raise ValueError(f"prefix {prefix!r} appears twice")
        mapping[prefix] = target
    return mapping


def _lower(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


# Settings read from the environment as comma-separated text (JSON accepted too), validated once here.
CsvList = Annotated[list[str], NoDecode, BeforeValidator(parse_csv_list)]
CsvMap = Annotated[dict[str, str], NoDecode, BeforeValidator(parse_csv_map)]
InferSource = Literal["detected", "default", "configured"]
InferSources = Annotated[list[InferSource], NoDecode, BeforeValidator(parse_csv_list)]
JudgeChoice = Annotated[Literal["openai", "heuristic", "auto"], BeforeValidator(_lower)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="BUGTRAIL_", env_file=".env", extra="ignore", populate_by_name=True
    )

    # Storage
    data_dir: Path = Path("./data")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default is an SQLite file in data_dir"
    )
    sqlite_busy_timeout_ms: int = 30_000
    db_pool_size: int = 10

    # HTTP service
    host: str = "127.0.0.1"
    port: int = 8000
    embedded_worker: bool = True
    serve_workers: int = Field(
        default=1, ge=1, le=64, description="API processes `bugtrail serve` runs (`--workers`)"
    )
    auth_cache_ttl_s: float = Field(
        # 30 s: a developer's recorder sends a request every few seconds to a minute, so a shorter TTL
        # misses the cache on most of them and each miss reads the key behind the SQLite writer (p99).
        default=30.0,
        ge=0,
        le=300,
        description="seconds a process trusts a looked-up API key (revokes elsewhere wait that long); 0=off",
    )
    # Group commit (api/group_commit.py): concurrent appends share one transaction and one fsync.
    write_group_max_requests: int = Field(default=256, ge=1, description="requests in one group commit")
    write_group_max_events: int = Field(default=20_000, ge=1, description="events in one group commit")

    # Limits (hard limits answer 413; soft ones trim and say so)
    max_body_bytes: int = 32 * MiB
    max_command_output_bytes: int = 1 * MiB
    max_events_per_trace: int = 200_000
    max_events_per_batch: int = 10_000
    max_text_bytes: int = 1 * MiB
    max_diff_bytes: int = 8 * MiB

    # QA runner
    repo_allowlist: CsvList = Field(default_factory=lambda: list(DEFAULT_REPO_ALLOWLIST))
    runner_image: str = "bugtrail-runner:latest"
    runner_image_map: CsvMap = Field(default_factory=dict, description="repo_url_prefix=image pairs")
    default_test_command: str = "python -m pytest -q"
    test_command_map: CsvMap = Field(default_factory=dict, description="repo_url_prefix=command pairs")
    test_file_patterns: CsvList = Field(default_factory=lambda: list(DEFAULT_TEST_FILE_PATTERNS))
    test_timeout_s: float = 600.0
    test_output_cap_bytes: int = 1 * MiB
    container_memory: str = "2g"
    container_cpus: float = 1.0
    container_pids_limit: int = 256
    clone_cache_dir: Path | None = None
    extra_ca_bundle: Path | None = None
    qa_parallel_phases: bool = Field(
        default=True, description="run the before and after test runs at the same time (two containers)"
    )
    qa_reruns: int = Field(
        default=0,
        ge=0,
        le=10,
        description="extra runs of each phase; tests whose outcome differs between runs are listed as flaky",
    )

    # Job queue (one queue for every task kind: QA runs, webhook deliveries, ...)
    job_lease_s: float = 900.0  # QA runs; renewed by a heartbeat every third of it
    job_max_attempts: int = 3
    job_retry_base_s: float = 10.0  # backoff: base * 2**(attempt-1), capped at job_retry_max_s
    job_retry_max_s: float = 3600.0
    worker_poll_s: float = 1.0  # how often an idle worker slot looks for due jobs

    # Judge
    judge: JudgeChoice = "auto"  # auto: openai when OPENAI_API_KEY is set, else heuristic
    judge_model: str = "gpt-4o"
    judge_token_budget: int = 24_000
    judge_timeout_s: float = 60.0
    judge_max_retries: int = 3
    judge_retry_base_s: float = 1.0  # backoff before retry n is base * 2**n (+ jitter), capped at 20 s
    judge_max_completion_tokens: int = 1_024
    openai_api_key: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "BUGTRAIL_OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_BASE_URL", "BUGTRAIL_OPENAI_BASE_URL")
    )

    # Webhooks (deliveries are "webhook.deliver" jobs in the one queue)
    webhook_allowlist: CsvList = Field(default_factory=list, description="URL prefixes; empty = any public")
    webhook_allow_private: CsvList = Field(
        default_factory=list, description="hosts/CIDRs that may be private or loopback (e.g. 127.0.0.1)"
    )
    webhook_timeout_s: float = 10.0  # total deadline of one attempt: connect + send + read the answer
    webhook_max_response_bytes: int = 4096  # of a receiver's answer body, at most this much is read
    webhook_max_attempts: int = 8
    webhook_concurrency: int = 4  # deliveries one worker sends at once (to different receivers)
    webhook_per_receiver_limit: int = 2  # deliveries in flight to one receiver (scheme://host:port)
    # Deprecated (the one queue took them over; see docs/webhooks.md): when set, the retry pair still
    # overrides job_retry_base_s / job_retry_max_s for deliveries; poll and lease are ignored.
    webhook_retry_base_s: float | None = None
    webhook_retry_max_s: float | None = None
    webhook_poll_s: float | None = None
    webhook_lease_s: float | None = None

    # Curation metadata (traces.curation): idle gaps longer than this are left out of a trace's active time
    active_gap_s: float = Field(default=300.0, gt=0, description="seconds between events that count as idle")

    # Dashboard sessions (server-side; the cookie holds a random id)
    dashboard_session_ttl_s: float = 12 * 3600.0

    # Human review (see docs/review.md): the share of traces given two independent reviews, and how long
    # a trace handed out by the review queue stays reserved for its reviewer
    review_overlap: float = Field(default=0.2, ge=0.0, le=1.0, description="share of double-reviewed traces")
    review_lease_s: float = Field(default=900.0, gt=0, description="queue lease of a handed-out trace")

    # QA environments (per-repository test environment images; see docs/qa.md "Environments")
    env_build_timeout_s: float = Field(default=900.0, description="wall-clock limit of one environment build")
    env_cache_max_gb: float = Field(
        default=20.0, description="size cap of the environment image cache; least recently used go first"
    )
    env_build_memory: str = "4g"
    env_build_suites: bool = Field(
        default=True, description="debootstrap a runner base for another Debian suite when a Python needs it"
    )
    env_infer_sources: InferSources = Field(
        default_factory=lambda: list[InferSource](["detected", "default"]),
        description="plan sources whose image also gets what the tests import but nobody declared",
    )
    image_registry: str | None = Field(
        default=None, description="host:port of a registry shared by workers (pull before build, push after)"
    )

    # QA authenticity and step labels (see docs/qa.md "Authenticity" and "Checkpoints")
    qa_history_depth: int = Field(
        default=0,
        ge=0,
        description="commits of history the test container sees up to base_commit (0: all of it)",
    )
    upstream_match_threshold: float = Field(
        default=0.9, gt=0, le=1, description="changed-line similarity at which a later commit is a match"
    )
    upstream_max_commits: int = Field(
        default=200, ge=0, description="later commits touching the trace's files that QA compares (oldest)"
    )
    upstream_max_diff_bytes: int = Field(
        default=512 * 1024, ge=1024, description="a later commit's diff larger than this is not compared"
    )
    duplicate_threshold: float = Field(
        default=0.9, gt=0, le=1, description="final-patch similarity at which an earlier trace is a duplicate"
    )
    duplicate_max_candidates: int = Field(
        default=50, ge=0, description="earlier traces of the same repository compared for duplicates"
    )
    qa_checkpoints: int = Field(
        default=0,
        ge=0,
        le=50,
        description="test runs of the session replayed for step-level labels (0: off)",
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'bugtrail.db').resolve()}"

    @property
    def resolved_clone_cache_dir(self) -> Path:
        return self.clone_cache_dir or (self.data_dir / "clone-cache")


def env_name(field: str) -> str:
    """The environment variable a setting is read from (BUGTRAIL_<FIELD>, or its alias)."""
    info = Settings.model_fields.get(field)
    if info is None:  # reported under an alias already (OPENAI_API_KEY)
        return (
            field.upper()
            if field.upper().startswith(("BUGTRAIL_", "OPENAI_"))
            else f"BUGTRAIL_{field.upper()}"
        )
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"BUGTRAIL_{field.upper()}"


def setting_problems(error: ValidationError) -> list[str]:
    """One line per invalid setting: `BUGTRAIL_X='value': what is wrong`."""
    problems = []
    for item in error.errors(include_url=False):
        field = str(item["loc"][0]) if item["loc"] else ""
        shown = item.get("input")
        value = f"={shown!r}" if isinstance(shown, str | int | float) else ""
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{env_name(field)}{value}: {message}")
    return problems


def get_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
