"""One Settings object for the server side; built by get_settings() and passed down, never read at import."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MiB = 1024 * 1024

DEFAULT_REPO_ALLOWLIST = (
    "https://github.com/,https://gitlab.com/,https://bitbucket.org/,https://codeberg.org/"
)


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

    # Limits (hard limits answer 413; soft ones trim and say so)
    max_body_bytes: int = 32 * MiB
    max_command_output_bytes: int = 1 * MiB
    max_events_per_trace: int = 200_000
    max_events_per_batch: int = 10_000
    max_text_bytes: int = 1 * MiB
    max_diff_bytes: int = 8 * MiB

    # QA runner
    repo_allowlist: str = DEFAULT_REPO_ALLOWLIST
    runner_image: str = "bugtrail-runner:latest"
    runner_image_map: str = Field(default="", description="comma-separated repo_url_prefix=image pairs")
    default_test_command: str = "python -m pytest -q"
    test_command_map: str = Field(default="", description="comma-separated repo_url_prefix=command pairs")
    test_file_patterns: str = (
        "tests/*,test/*,*/tests/*,test_*.py,*_test.py,conftest.py,*/test_*.py,*/conftest.py"
    )
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
    judge: str = "auto"  # openai | heuristic | auto
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
    webhook_allowlist: str = Field(default="", description="comma-separated URL prefixes; empty = any public")
    webhook_allow_private: str = Field(
        default="", description="comma-separated hosts/CIDRs that may be private or loopback (e.g. 127.0.0.1)"
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

    # Dashboard sessions (server-side; the cookie holds a random id)
    dashboard_session_ttl_s: float = 12 * 3600.0

    # QA environments (per-repository test environment images; see docs/qa.md "Environments")
    env_build_timeout_s: float = Field(default=900.0, description="wall-clock limit of one environment build")
    env_cache_max_gb: float = Field(
        default=20.0, description="size cap of the environment image cache; least recently used go first"
    )
    env_build_memory: str = "4g"
    env_build_suites: bool = Field(
        default=True, description="debootstrap a runner base for another Debian suite when a Python needs it"
    )
    image_registry: str | None = Field(
        default=None, description="host:port of a registry shared by workers (pull before build, push after)"
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'bugtrail.db').resolve()}"

    @property
    def resolved_clone_cache_dir(self) -> Path:
        return self.clone_cache_dir or (self.data_dir / "clone-cache")


def split_csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def get_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
