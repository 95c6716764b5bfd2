"""Exports carry their reviews and filter on the review summary; a reviewer's export is blind like a GET."""

from __future__ import annotations

import io
import json

import pyarrow.parquet as pq

from tests.support.reviews import review_body, reviewer_keys, seed_reviewable

REVIEW_KEYS = {
    "id",
    "trace_id",
    "reviewer_id",
    "reviewer_label",
    "criteria",
    "overall",
    "decision",
    "reason",
    "feedback",
    "event_marks",
    "rubric_version",
    "supersedes_id",
    "current",
    "created_at",
}


def _seed(client, keys, database) -> list[str]:
    traces = seed_reviewable(database, 3)
    carol = reviewer_keys(database, ["carol"])["carol"]
    client.post(f"/api/traces/{traces[0]}/reviews", json=review_body(5), headers=keys.reviewer)
    client.post(f"/api/traces/{traces[0]}/reviews", json=review_body(4), headers=carol)
    client.post(f"/api/traces/{traces[1]}/reviews", json=review_body(2, "reject"), headers=carol)
    return traces


def _jsonl(client, headers, **params) -> list[dict]:
    response = client.get("/api/export", params={"format": "jsonl", **params}, headers=headers)
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.content.decode().splitlines()]


def test_export_carries_reviews_and_filters_on_them(client, keys, database):
    traces = _seed(client, keys, database)
    records = {r["trace_id"]: r for r in _jsonl(client, keys.admin)}
    first = records[traces[0]]
    assert first["review_decision"] == "accept" and first["human_score"] == 4.5
    assert [r["reviewer_id"] for r in first["reviews"]] == ["reviewer", "carol"]
    assert set(first["reviews"][0]) == REVIEW_KEYS
    assert records[traces[2]]["reviews"] == [] and records[traces[2]]["review_decision"] is None
    assert first == client.get(f"/api/traces/{traces[0]}", headers=keys.admin).json()

    assert [r["trace_id"] for r in _jsonl(client, keys.admin, review_decision="accept")] == [traces[0]]
    both = _jsonl(client, keys.admin, review_decision="accept,reject")
    assert sorted(r["trace_id"] for r in both) == sorted(traces[:2])
    assert [r["trace_id"] for r in _jsonl(client, keys.admin, min_human_score=3)] == [traces[0]]
    bad = client.get("/api/export", params={"review_decision": "maybe"}, headers=keys.admin)
    assert bad.status_code == 422 and "review_decision" in bad.text

    table = pq.read_table(
        io.BytesIO(client.get("/api/export", params={"format": "parquet"}, headers=keys.admin).content)
    )
    rows = {row["trace_id"]: row for row in table.to_pylist()}
    assert rows[traces[1]]["review_decision"] == "reject" and rows[traces[1]]["human_score"] == 2.0
    assert [r["decision"] for r in json.loads(rows[traces[0]]["reviews"])] == ["accept", "accept"]
    events = pq.read_table(
        io.BytesIO(
            client.get(
                "/api/export", params={"format": "parquet", "layout": "event"}, headers=keys.admin
            ).content
        )
    )
    assert set(events.column("review_decision").to_pylist()) == {"accept", "reject", None}


def test_reviewer_export_is_blind_where_they_have_not_reviewed(client, keys, database):
    traces = _seed(client, keys, database)
    records = {r["trace_id"]: r for r in _jsonl(client, keys.reviewer)}
    reviewed, unseen = records[traces[0]], records[traces[1]]
    assert reviewed["reasoning_score"] == 4.0 and len(reviewed["reviews"]) == 2
    assert (
        unseen["reasoning_score"] is None and unseen["reviews"] is None and unseen["review_decision"] is None
    )
    assert unseen["qa_results"]["judge"] is None and unseen["qa_results"]["tests_passed"] is True
    for params in ({"min_reasoning_score": 1}, {"review_decision": "accept"}, {"min_human_score": 1}):
        response = client.get("/api/export", params=params, headers=keys.reviewer)
        assert response.status_code == 403 and next(iter(params)) in response.text
    table = pq.read_table(
        io.BytesIO(client.get("/api/export", params={"format": "parquet"}, headers=keys.reviewer).content)
    )
    rows = {row["trace_id"]: row for row in table.to_pylist()}
    assert rows[traces[1]]["reasoning_score"] is None and rows[traces[1]]["reviews"] is None
    assert (
        "judge" not in json.loads(rows[traces[1]]["qa_results"])
        or json.loads(rows[traces[1]]["qa_results"])["judge"] is None
    )
    assert rows[traces[0]]["reasoning_score"] == 4.0
