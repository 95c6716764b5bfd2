"""The agreement page in headless Chromium: charts drawn for a seeded set of reviewed, judged traces, and the
figures shown equal a direct computation with the libraries."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest

from bugtrail.agreement.calibrations import fit_and_store
from bugtrail.agreement.flows import recalibrate_stored
from bugtrail.agreement.schemas import CalibrationRequest
from bugtrail.qa.judge import RUBRIC_VERSION
from tests.support.agreement_set import REVIEWERS, seed_agreement_set
from tests.support.png import colour_stats

pytestmark = pytest.mark.browser

CHARTS = ("chart-alpha", "chart-pairs", "chart-judge-spearman", "chart-judge-mae", "chart-weekly")


@pytest.fixture
def seeded(database):
    with database.scope() as session:
        seeded = seed_agreement_set(session, traces=20)
        request = CalibrationRequest(
            judge="heuristic", model=None, rubric_version=RUBRIC_VERSION, min_samples=10
        )
        fit_and_store(session, request, "test")
    recalibrate_stored(database)
    return seeded


def login(page, base: str, key: str) -> None:
    page.goto(f"{base}/dashboard/login")
    page.fill("#api_key", key)
    page.click("#login-submit")
    page.wait_for_url(f"{base}/dashboard")


def test_agreement_page_renders_the_figures(page, live_server, keys, seeded, tmp_path):
    login(page, live_server, keys.raw["reviewer"])
    page.click("a.topnav")
    page.wait_for_url(f"{live_server}/dashboard/agreement")
    page.wait_for_selector("body[data-charts-ready='1']", timeout=15_000)
    page.screenshot(path=str(tmp_path / "agreement.png"), full_page=True)

    assert page.inner_text("#review-count") == str(sum(len(t.reviews) for t in seeded.traces))
    assert page.inner_text("#multi-count") == "4"
    matrix = np.full((len(REVIEWERS), len(seeded.traces)), np.nan)
    for column, trace in enumerate(seeded.traces):
        for review in trace.reviews:
            matrix[REVIEWERS.index(review.reviewer), column] = review.overall
    alpha = krippendorff.alpha(reliability_data=matrix, level_of_measurement="ordinal")
    shown = page.locator("#alpha-table tr[data-criterion='overall'] .figure").get_attribute("data-value")
    assert float(shown) == pytest.approx(alpha, abs=1e-4)

    group = page.locator(".judge-group[data-judge='heuristic']")
    judge = np.array([t.judge_score for t in seeded.traces])
    human = np.array([np.mean([r.overall for r in t.reviews]) for t in seeded.traces])
    mae = group.locator("tr[data-criterion='overall'] td.mae .figure").get_attribute("data-value")
    assert float(mae) == pytest.approx(float(np.mean(np.abs(judge - human))), abs=1e-4)
    calibrated = group.locator("tr[data-criterion='overall'] td.mae-calibrated .figure").get_attribute(
        "data-value"
    )
    assert float(calibrated) < float(mae)  # the calibrated judge is closer to people

    for chart in CHARTS:
        canvas = page.locator(f"#{chart}")
        assert canvas.get_attribute("data-rendered") == "1", chart
        differing, total, colours = colour_stats(canvas.screenshot())
        assert differing > 0.02 * total, f"{chart} screenshot is blank"
        assert len(colours) >= 3, f"{chart} screenshot has too few colours"
    assert page.console_errors == []

    # Filters narrow the figures: no openai judge scored these traces.
    page.fill("input[name='judge']", "openai")
    page.click("#agreement-filters button[type='submit']")
    page.wait_for_selector("#no-judges")
    assert page.inner_text("#review-count") == str(sum(len(t.reviews) for t in seeded.traces))
