"""`bugtrail judge TRACE_ID` on SQLite and PostgreSQL: re-judge a stored trace and store the record."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bugtrail.config import Settings
from bugtrail.db.engine import Database
from bugtrail.db.models import QaResult, Trace
from bugtrail.errors import Conflict, NotFound
from bugtrail.qa.judge.flows import rejudge_trace
from tests.support.judge_traces import TRACE_DIR
from tests.support.openai_stub import Answer, OpenAIStub, Status

START = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub(
        default=Answer(score=3.7, comments="Stub: rationale at #4, alternatives thin.")
    ) as server:
        yield server


def openai_settings(settings: Settings, stub: OpenAIStub, **extra: Any) -> Settings:
    return settings.model_copy(
        update={
            "judge": "openai",
            "openai_api_key": "sk-test-judge",
            "openai_base_url": stub.base_url,
            "judge_timeout_s": 5.0,
            "judge_retry_base_s": 0.01,
            **extra,
        }
    )


def post_trace(client: Any, headers: dict[str, str], name: str = "08_with_alternatives.json") -> str:
    data = json.loads((TRACE_DIR / name).read_text())
    events = [
        {**e, "timestamp": (START + timedelta(minutes=i)).isoformat()} for i, e in enumerate(data["events"])
    ]
    body = {"repo_url": data["repo_url"], "bug_description": data["bug_description"], "events": events}
    created = client.post("/api/traces", json=body, headers=headers)
    assert created.status_code == 201, created.text
    return str(created.json()["trace_id"])


def finalize(client: Any, headers: dict[str, str], trace_id: str) -> None:
    assert client.post(f"/api/traces/{trace_id}/finalize", headers=headers).status_code == 202


def test_cli_judges_a_trace_with_no_qa_result(client, keys, settings, database, stub, tmp_path: Path) -> None:
    trace_id = post_trace(client, keys.alice)
    finalize(client, keys.alice, trace_id)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BUGTRAIL_", "OPENAI_"))}
    env.update(
        BUGTRAIL_DATA_DIR=str(settings.data_dir),
        BUGTRAIL_DATABASE_URL=settings.resolved_database_url,
        BUGTRAIL_JUDGE="openai",
        BUGTRAIL_JUDGE_MODEL="gpt-4o-mini",
        OPENAI_API_KEY="sk-test-judge",
        OPENAI_BASE_URL=stub.base_url,
        # This checkout's code, not whichever bugtrail is installed.
        PYTHONPATH=os.pathsep.join(
            [str(Path(__file__).resolve().parents[2] / "src"), env.get("PYTHONPATH", "")]
        ),
    )
    done = subprocess.run(
        [sys.executable, "-m", "bugtrail", "judge", trace_id, "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["reasoning_score"] == 3.7 and printed["model"] == "gpt-4o-mini"
    assert "stored on the new judged_only QA result" in done.stderr
    assert len(stub.requests) == 1 and stub.requests[0].body["model"] == "gpt-4o-mini"

    got = client.get(f"/api/traces/{trace_id}", headers=keys.alice).json()
    assert got["reasoning_score"] == 3.7
    qa = got["qa_results"]
    assert qa["outcome"] == "judged_only" and qa["tests_passed"] is None
    assert qa["reasoning_score"] == 3.7
    assert qa["judge_comments"] == "Stub: rationale at #4, alternatives thin."
    judge = qa["judge"]
    for field in (
        "judge",
        "model",
        "rubric_version",
        "criteria",
        "flags",
        "prompt_tokens",
        "completion_tokens",
        "latency_ms",
        "judged_at",
    ):
        assert judge[field] is not None, field
    assert judge["judge"] == "openai" and judge["prompt_tokens"] == 1234 and judge["error"] is None


def test_rejudge_updates_the_newest_qa_result(client, keys, settings, database: Database, stub) -> None:
    trace_id = post_trace(client, keys.alice)
    finalize(client, keys.alice, trace_id)
    # A QA run as the pipeline stores it: tests ran, the heuristic judged.
    first = rejudge_trace(settings, database, trace_id)
    assert first.stored and first.created_qa_result and first.record.judge == "heuristic"
    with database.scope() as session:
        row = session.get(QaResult, first.qa_result_id)
        assert row is not None
        row.outcome, row.tests_passed = "completed", True
        row.result = {**row.result, "outcome": "completed", "tests_passed": True, "test_output": "3 passed"}

    again = rejudge_trace(openai_settings(settings, stub), database, trace_id)
    assert again.stored and not again.created_qa_result and again.qa_result_id == first.qa_result_id
    with database.scope(read_only=True) as session:
        rows = list(session.scalars(select(QaResult).where(QaResult.trace_id == trace_id)))
        trace = session.get(Trace, trace_id)
        assert trace is not None and len(rows) == 1
        row = rows[0]
        assert (row.reasoning_score, row.judge_comments) == (3.7, "Stub: rationale at #4, alternatives thin.")
        assert row.tests_passed is True and row.result["test_output"] == "3 passed"  # tests not re-run
        assert row.result["judge"]["judge"] == "openai"
        assert row.result["previous_judges"][0]["judge"] == "heuristic"
        assert trace.reasoning_score == 3.7 and trace.latest_qa_result_id == row.id


def test_failed_judge_stores_nothing(client, keys, settings, database: Database, stub) -> None:
    trace_id = post_trace(client, keys.alice)
    finalize(client, keys.alice, trace_id)
    stored = rejudge_trace(settings, database, trace_id)  # heuristic score first
    stub.default = Status(500)
    failed = rejudge_trace(openai_settings(settings, stub, judge_max_retries=1), database, trace_id)
    assert not failed.stored and failed.record.error is not None and failed.record.reasoning_score is None
    with database.scope(read_only=True) as session:
        trace = session.get(Trace, trace_id)
        assert trace is not None and trace.reasoning_score == stored.record.reasoning_score


def test_dry_run_pending_and_missing(client, keys, settings, database: Database, stub) -> None:
    trace_id = post_trace(client, keys.alice)
    with pytest.raises(Conflict):
        rejudge_trace(settings, database, trace_id)
    with pytest.raises(NotFound):
        rejudge_trace(settings, database, "00000000-0000-0000-0000-000000000000")
    finalize(client, keys.alice, trace_id)
    dry = rejudge_trace(openai_settings(settings, stub), database, trace_id, store=False)
    assert dry.record.reasoning_score == 3.7 and not dry.stored
    with database.scope(read_only=True) as session:
        assert session.scalar(select(QaResult).where(QaResult.trace_id == trace_id)) is None
