"""Judge calibration on SQLite and PostgreSQL: a judge biased by +1 is mapped back to the reviewers' scale,
which lowers its error on held-back reviews; the map is versioned, one active per judge, applied to new
judge records (QA, re-judging) and re-applied to stored ones."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bugtrail.agreement.flows import recalibrate_stored
from bugtrail.agreement.repository import add_calibration
from bugtrail.config import Settings
from bugtrail.db.engine import Database
from bugtrail.db.models import QaResult
from bugtrail.qa.judge import RUBRIC_VERSION
from bugtrail.qa.judge.flows import rejudge_trace
from bugtrail.qa.pipeline import calibrate
from tests.support.agreement_set import SeededSet, seed_agreement_set
from tests.support.seed import CRITERIA_NAMES, add_trace, judged_document

REQUEST = {"judge": "heuristic", "model": None, "rubric_version": RUBRIC_VERSION, "holdout": 0.3, "seed": 1}


@pytest.fixture
def seeded(database: Database) -> SeededSet:
    with database.scope() as session:
        return seed_agreement_set(session, traces=60, seed=11)


def test_calibration_lowers_the_error_on_held_back_reviews(
    client: Any, keys: Any, seeded: SeededSet, database: Database, settings: Settings
) -> None:
    created = client.post("/api/judge/calibrations", json=REQUEST, headers=keys.admin)
    assert created.status_code == 201, created.text
    first = created.json()
    assert (first["version"], first["active"], first["sample_count"]) == (1, True, 60)
    metrics = first["metrics"]
    assert (metrics["fit_count"], metrics["holdout_count"]) == (42, 18)
    # The seeded judge says human + 1: before calibration it is off by about a point, after far less.
    assert metrics["mae_before"] > 0.6
    assert metrics["mae_after"] < metrics["mae_before"] / 2
    # Integer criteria, noisier and clipped at 5: better on the whole, never much worse on one (18 traces).
    dimensions = metrics["dimensions"]
    assert sum(d["mae_after"] for d in dimensions.values()) < 0.7 * sum(
        d["mae_before"] for d in dimensions.values()
    )
    for name, figures in dimensions.items():
        assert figures["mae_after"] < figures["mae_before"] + 0.15, name
    overall = first["mapping"]["overall"]
    assert overall["x"] == sorted(overall["x"]) and overall["y"] == sorted(overall["y"])  # monotone

    second = client.post("/api/judge/calibrations", json=REQUEST | {"seed": 2}, headers=keys.admin).json()
    listed = client.get("/api/judge/calibrations", headers=keys.admin).json()
    assert [(c["version"], c["active"]) for c in listed] == [(2, True), (1, False)]

    # New judge records carry raw and calibrated scores: QA's step and `bugtrail judge TRACE_ID`.
    record = {"judge": "heuristic", "model": None, "rubric_version": RUBRIC_VERSION, "reasoning_score": 4.6,
              "criteria": {"consistency": 5}, "error": None}  # fmt: skip
    calibrated = calibrate(database, record)
    assert calibrated is not None and calibrated["reasoning_score"] == 4.6
    assert calibrated["calibrated"]["version"] == 2 and calibrated["calibrated"]["reasoning_score"] < 4.6
    other_rubric = calibrate(database, record | {"rubric_version": "reasoning-rubric-v1 (2026-11-26)"})
    assert other_rubric is not None and "calibrated" not in other_rubric
    rejudged = rejudge_trace(settings, database, seeded.traces[0].trace_id)
    assert (
        rejudged.record.calibrated is not None and rejudged.record.calibrated.calibration_id == second["id"]
    )

    # Stored records: re-applied in pages; the agreement report then shows the calibrated figures.
    counts = recalibrate_stored(database)
    assert counts.examined == 60 and counts.calibrated == 60
    with database.scope(read_only=True) as session:
        documents = session.scalars(select(QaResult.result)).all()
    assert all(doc["judge"]["calibrated"]["version"] == 2 for doc in documents)
    report = client.get("/api/reviews/agreement", params={"resamples": 0}, headers=keys.reviewer).json()
    [group] = report["judge_vs_human"]
    assert group["calibrated_traces"] == 60
    raw_mae = group["figures"]["overall"]["mae"]["value"]
    assert group["calibrated"]["overall"]["mae"]["value"] < raw_mae / 2

    # Activating version 1 again, then re-applying, moves every record to it.
    assert (
        client.post(f"/api/judge/calibrations/{first['id']}/activate", headers=keys.admin).status_code == 200
    )
    recalibrate_stored(database)
    with database.scope(read_only=True) as session:
        documents = session.scalars(select(QaResult.result)).all()
    assert {doc["judge"]["calibrated"]["version"] for doc in documents} == {1}


def test_calibration_rules(client: Any, keys: Any, database: Database) -> None:
    with database.scope() as session:
        seed_agreement_set(session, traces=8, seed=3)
    too_few = client.post("/api/judge/calibrations", json=REQUEST, headers=keys.admin)
    assert too_few.status_code == 409 and too_few.json()["detail"]["reviewed_traces"] == 8
    assert client.post("/api/judge/calibrations", json=REQUEST, headers=keys.reviewer).status_code == 403
    assert client.get("/api/judge/calibrations", headers=keys.alice).status_code == 403
    for body, field in (
        (REQUEST | {"judge": "claude"}, "judge"),
        (REQUEST | {"holdout": 0.9}, "holdout"),
        ({k: v for k, v in REQUEST.items() if k != "rubric_version"}, "rubric_version"),
        (REQUEST | {"extra": 1}, "extra"),
    ):
        response = client.post("/api/judge/calibrations", json=body, headers=keys.admin)
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["field"] == field
    assert client.get("/api/judge/calibrations/999", headers=keys.admin).status_code == 404
    assert client.get("/api/judge/calibrations", headers=keys.admin).json() == []


def test_recalibration_walks_past_results_without_a_judge_record(database: Database) -> None:
    with database.scope() as session:
        for i in range(5):  # QA results with no judge record first (e.g. infrastructure errors) ...
            add_trace(
                session, index=i, qa={"outcome": "error", "error_kind": "infrastructure", "judge": None}
            )
        for i in range(5, 8):  # ... then judged ones
            add_trace(session, index=i, qa=judged_document(dict.fromkeys(CRITERIA_NAMES, 4), 4.2))
        add_calibration(
            session,
            judge="heuristic",
            model=None,
            rubric_version=RUBRIC_VERSION,
            mapping={"overall": {"x": [1.0, 5.0], "y": [1.0, 4.0]}, "consistency": {"x": [4.0], "y": [3.0]}},
            sample_count=10,
            metrics={},
            created_by="test",
        )
    counts = recalibrate_stored(database, page_size=2)
    assert (counts.examined, counts.calibrated, counts.cleared) == (3, 3, 0)
    with database.scope(read_only=True) as session:
        documents = session.scalars(select(QaResult.result).order_by(QaResult.id)).all()
    assert [doc["judge"] is None for doc in documents] == [True] * 5 + [False] * 3
    calibrated = documents[-1]["judge"]["calibrated"]
    assert calibrated["reasoning_score"] == 3.4 and calibrated["criteria"] == {"consistency": 3.0}
    assert documents[-1]["judge"]["reasoning_score"] == 4.2  # the raw score stays
