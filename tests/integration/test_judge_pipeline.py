"""Done-when of issue 4: a finalized trace goes through the QA worker and ends with the stub judge's score.

Uses the QA helper's worker (bugtrail.jobs.worker). A trace without base_commit needs no Docker: QA
records outcome `skipped` for the tests, and the judge still runs and is stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bugtrail.qa.judge import CRITERIA, RUBRIC_VERSION
from bugtrail.tasks import build_worker
from tests.support.judge_traces import TRACE_DIR
from tests.support.openai_stub import Answer, Content, OpenAIStub

START = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub() as server:
        yield server


def finalized_trace(client: Any, headers: dict[str, str], name: str) -> str:
    data = json.loads((TRACE_DIR / name).read_text())
    events = [
        {**e, "timestamp": (START + timedelta(minutes=i)).isoformat()} for i, e in enumerate(data["events"])
    ]
    body = {"repo_url": data["repo_url"], "bug_description": data["bug_description"], "events": events}
    trace_id = str(client.post("/api/traces", json=body, headers=headers).json()["trace_id"])
    assert client.post(f"/api/traces/{trace_id}/finalize", headers=headers).status_code == 202
    return trace_id


def run_one_job(settings: Any, database: Any, stub: OpenAIStub) -> None:
    judged = settings.model_copy(
        update={
            "judge": "openai",
            "openai_api_key": "sk-test-judge",
            "openai_base_url": stub.base_url,
            "judge_timeout_s": 5.0,
            "judge_max_retries": 1,
            "judge_retry_base_s": 0.01,
        }
    )
    assert build_worker(judged, database).run_once() is True


def test_finalized_trace_ends_with_the_stub_judges_score(client, keys, settings, database, stub) -> None:
    stub.script(Answer(score=4.3, criteria=dict.fromkeys(CRITERIA, 4), comments="Stub: careful, specific."))
    trace_id = finalized_trace(client, keys.alice, "09_careful.json")
    run_one_job(settings, database, stub)

    got = client.get(f"/api/traces/{trace_id}", headers=keys.alice).json()
    assert got["reasoning_score"] == 4.3
    qa = got["qa_results"]
    assert qa["reasoning_score"] == 4.3 and qa["judge_comments"] == "Stub: careful, specific."
    judge = qa["judge"]
    assert judge["judge"] == "openai" and judge["model"] == "gpt-4o"
    assert judge["rubric_version"] == RUBRIC_VERSION
    assert judge["criteria"] == dict.fromkeys(CRITERIA, 4)
    assert (judge["prompt_tokens"], judge["completion_tokens"]) == (1234, 56)
    assert judge["latency_ms"] >= 0 and judge["judged_at"] and judge["error"] is None
    assert len(stub.requests) == 1
    assert "Option C: make cart.discounts a set." in stub.requests[0].text()


def test_a_judge_that_stays_bad_is_stored_as_an_error(client, keys, settings, database, stub) -> None:
    stub.default = Content("not json at all")
    trace_id = finalized_trace(client, keys.alice, "05_generic_hypothesis_first.json")
    run_one_job(settings, database, stub)
    qa = client.get(f"/api/traces/{trace_id}", headers=keys.alice).json()["qa_results"]
    assert qa["reasoning_score"] is None
    assert qa["judge"]["error"] and "invalid answer" in qa["judge"]["error"]
    assert qa["judge"]["attempts"] == 2
