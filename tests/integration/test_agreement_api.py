"""GET /api/reviews/agreement on a seeded set (SQLite and PostgreSQL): every figure recomputed here
directly with the libraries (krippendorff, statsmodels, scipy) from the seeded values; access and input
rules."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta
from typing import Any

import krippendorff
import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.inter_rater import cohens_kappa

from bugtrail.db.engine import Database
from tests.support.agreement_set import REVIEWERS, START, SeededSet, SeededTrace, seed_agreement_set
from tests.support.seed import CRITERIA_NAMES, add_review, add_trace

DIMENSIONS = (*CRITERIA_NAMES, "overall")
GRID = [1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0]


@pytest.fixture
def seeded(database: Database) -> SeededSet:
    with database.scope() as session:
        return seed_agreement_set(session)


def human_value(review: Any, name: str) -> float:
    return float(review.overall if name == "overall" else review.criteria[name])


def judge_value(trace: SeededTrace, name: str) -> float:
    return trace.judge_score if name == "overall" else float(trace.judge_criteria[name])


def human_mean(trace: SeededTrace, name: str) -> float:
    return float(np.mean([human_value(r, name) for r in trace.reviews]))


def direct_kappa(a: list[float], b: list[float]) -> float:
    def cat(v: float) -> int:
        return GRID.index(min(5.0, max(1.0, np.floor(v * 2 + 0.5) / 2)))

    table = np.zeros((9, 9))
    for x, y in zip(a, b, strict=True):
        table[cat(x), cat(y)] += 1
    with np.errstate(invalid="ignore", divide="ignore"):  # 0/0 for a table without variance: NaN
        return float(cohens_kappa(table, weights=np.array(GRID), wt="quadratic", return_results=False))


def test_figures_match_a_direct_computation(client: Any, keys: Any, seeded: SeededSet) -> None:
    response = client.get("/api/reviews/agreement", params={"min_pair_traces": 2}, headers=keys.reviewer)
    assert response.status_code == 200, response.text
    report = response.json()
    between = report["between_reviewers"]
    assert between["reviews"] == sum(len(t.reviews) for t in seeded.traces)  # the superseded one is out
    assert between["multi_reviewed_traces"] == len(seeded.multi_reviewed()) == 4
    assert between["reviewers"] == 3

    for name in DIMENSIONS:
        matrix = np.full((len(REVIEWERS), len(seeded.traces)), np.nan)
        for column, trace in enumerate(seeded.traces):
            for review in trace.reviews:
                matrix[REVIEWERS.index(review.reviewer), column] = human_value(review, name)
        expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="ordinal")
        assert between["alpha"][name]["value"] == pytest.approx(expected, abs=1e-4), name
        assert between["alpha"][name]["n"] == 4

    pairs = {(p["reviewer_a"], p["reviewer_b"]): p for p in between["pairs"]}
    for a, b in itertools.combinations(sorted(REVIEWERS), 2):
        shared = [t for t in seeded.traces if {r.reviewer for r in t.reviews} >= {a, b}]
        if len(shared) < 2:
            assert (a, b) not in pairs
            continue
        by = [{r.reviewer: r for r in t.reviews} for t in shared]
        x = [human_value(s[a], "overall") for s in by]
        y = [human_value(s[b], "overall") for s in by]
        assert pairs[(a, b)]["shared_traces"] == len(shared)
        expected_kappa = direct_kappa(x, y)
        shown = pairs[(a, b)]["kappa"]["overall"]["value"]
        if np.isnan(expected_kappa):  # no variance on this pair's shared traces: undefined, shown as null
            assert shown is None
        else:
            assert shown == pytest.approx(expected_kappa, abs=1e-4)
    assert any(p["kappa"]["overall"]["value"] is not None for p in pairs.values())

    [group] = report["judge_vs_human"]
    assert (group["judge"], group["model"]) == ("heuristic", None)
    assert group["traces"] == len(seeded.traces)
    for name in DIMENSIONS:
        judge = [judge_value(t, name) for t in seeded.traces]
        human = [human_mean(t, name) for t in seeded.traces]
        figures = group["figures"][name]
        assert figures["spearman"]["value"] == pytest.approx(
            stats.spearmanr(judge, human).statistic, abs=1e-4
        )
        assert figures["kappa"]["value"] == pytest.approx(direct_kappa(judge, human), abs=1e-4)
        mae = float(np.mean(np.abs(np.array(judge) - np.array(human))))
        assert figures["mae"]["value"] == pytest.approx(mae, abs=1e-4)
        assert figures["mae"]["n"] == len(seeded.traces)
        # 20 traces: every interval exists and brackets a plausible range.
        assert figures["mae"]["ci_low"] <= mae <= figures["mae"]["ci_high"]
    assert group["figures"]["overall"]["mae"]["value"] > 0.5  # the seeded judge is biased by +1

    weeks = [point["week_start"] for point in report["weekly"]]
    assert weeks == sorted(weeks) and len(weeks) == 3
    assert sum(point["reviews"] for point in report["weekly"]) == between["reviews"]


def test_intervals_are_reproducible_and_follow_the_seed(client: Any, keys: Any, seeded: SeededSet) -> None:
    def overall_mae(seed: int) -> dict[str, Any]:
        response = client.get("/api/reviews/agreement", params={"seed": seed}, headers=keys.admin)
        assert response.status_code == 200, response.text
        return dict(response.json()["judge_vs_human"][0]["figures"]["overall"]["mae"])

    first, again, other = overall_mae(0), overall_mae(0), overall_mae(1)
    assert first == again
    assert (first["ci_low"], first["ci_high"]) != (other["ci_low"], other["ci_high"])
    assert first["value"] == other["value"]


def test_filters(client: Any, keys: Any, seeded: SeededSet, database: Database) -> None:
    first_week = {"until": (START + timedelta(days=6)).isoformat()}
    response = client.get("/api/reviews/agreement", params=first_week, headers=keys.reviewer)
    in_week = sum(1 for t in seeded.traces for r in t.reviews if r.created_at <= START + timedelta(days=6))
    assert response.json()["between_reviewers"]["reviews"] == in_week < 24

    other = client.get("/api/reviews/agreement", params={"judge": "openai"}, headers=keys.reviewer).json()
    assert other["judge_vs_human"] == [] and other["between_reviewers"]["reviews"] == 24
    unknown_repo = client.get(
        "/api/reviews/agreement", params={"repo": "https://x.test/none"}, headers=keys.admin
    )
    assert unknown_repo.json()["between_reviewers"]["reviews"] == 0
    assert unknown_repo.json()["between_reviewers"]["alpha"]["overall"]["value"] is None

    # A newer review by the same reviewer supersedes: the trace's figures follow it.
    trace = seeded.traces[5]
    with database.scope() as session:
        add_review(
            session,
            trace.trace_id,
            trace.reviews[0].reviewer,
            dict.fromkeys(CRITERIA_NAMES, 5),
            5.0,
            created_at=START + timedelta(days=30),
        )
    latest = client.get("/api/reviews/agreement", headers=keys.admin).json()
    assert latest["between_reviewers"]["reviews"] == 24
    before = client.get(
        "/api/reviews/agreement",
        params={"until": (START + timedelta(days=29)).isoformat()},
        headers=keys.admin,
    ).json()
    mae_now = latest["judge_vs_human"][0]["figures"]["overall"]["mae"]["value"]
    assert mae_now != before["judge_vs_human"][0]["figures"]["overall"]["mae"]["value"]


def test_access_and_bad_input(client: Any, keys: Any) -> None:
    assert client.get("/api/reviews/agreement").status_code == 401
    refused = client.get("/api/reviews/agreement", headers=keys.alice)
    assert refused.status_code == 403
    for params, field in (
        ({"resamples": 10_001}, "resamples"),
        ({"confidence": 1.5}, "confidence"),
        ({"since": "yesterday"}, "since"),
        ({"min_pair_traces": 1}, "min_pair_traces"),
        ({"since": "2026-10-10T00:00:00Z", "until": "2026-10-01T00:00:00Z"}, "since"),
    ):
        response = client.get("/api/reviews/agreement", params=params, headers=keys.reviewer)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["detail"][0]["field"] == field, response.json()
    empty = client.get("/api/reviews/agreement", headers=keys.reviewer)
    assert empty.status_code == 200
    assert empty.json()["between_reviewers"]["reviews"] == 0 and empty.json()["judge_vs_human"] == []


def dashboard_login(client: Any, key: str) -> None:
    form = client.get("/dashboard/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    done = client.post(
        "/dashboard/login", data={"api_key": key, "csrf_token": token.group(1)}, follow_redirects=False
    )
    assert done.status_code == 303


def test_dashboard_page_gate_filters_and_escaping(client: Any, keys: Any, database: Database) -> None:
    xss = "<script>window.__x=1</script>"
    with database.scope() as session:
        for i in range(2):
            trace_id = add_trace(session, index=i, developer_id="alice")
            for reviewer, score in ((xss, 3 + i), ("rev-b", 2 + i)):
                add_review(session, trace_id, reviewer, dict.fromkeys(CRITERIA_NAMES, score), float(score))
    anonymous = client.get("/dashboard/agreement", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/dashboard/login"

    dashboard_login(client, keys.raw["reviewer"])
    page = client.get("/dashboard/agreement", params={"min_pair_traces": 2})
    assert page.status_code == 200
    assert "Content-Security-Policy" in page.headers
    assert xss not in page.text and "&lt;script&gt;window.__x=1&lt;/script&gt;" in page.text
    assert 'id="review-count">4<' in page.text
    bad = client.get("/dashboard/agreement", params={"since": "not a date"})
    assert bad.status_code == 422 and "since" in bad.text
