"""Agreement statistics and calibration maths against the libraries they wrap, and their edge cases."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from scipy import stats
from scipy.optimize import isotonic_regression
from statsmodels.stats.inter_rater import cohens_kappa

from bugtrail.agreement.calibration import (
    MonotoneMap,
    Pair,
    calibrated_scores,
    fit_calibration,
    fit_monotone,
    split_holdout,
)
from bugtrail.agreement.statistics import (
    KAPPA,
    MAE,
    SPEARMAN,
    alpha_estimate,
    kappa_quadratic,
    kappa_quadratic_batched,
    paired_estimate,
    spearman_batched,
    to_grid,
)

GRID = np.arange(1.0, 5.01, 0.5)


def statsmodels_kappa(a: np.ndarray, b: np.ndarray) -> float:
    table = np.zeros((9, 9))
    for x, y in zip(to_grid(a), to_grid(b), strict=True):
        table[int((x - 1) * 2), int((y - 1) * 2)] += 1
    return float(cohens_kappa(table, weights=GRID, wt="quadratic", return_results=False))


def test_grid_rounds_half_up_and_clips() -> None:
    assert list(to_grid([0.2, 1.24, 1.25, 3.74, 3.75, 4.9, 7])) == [1.0, 1.0, 1.5, 3.5, 4.0, 5.0, 5.0]


def test_kappa_batched_equals_statsmodels_on_random_tables() -> None:
    rng = np.random.default_rng(5)
    for _ in range(300):
        n = int(rng.integers(2, 50))
        a = rng.integers(2, 11, n) / 2
        b = np.clip(a + rng.normal(0, 1.2, n), 1, 5)
        expected = statsmodels_kappa(a, b)
        assert kappa_quadratic(a, b) == pytest.approx(expected, abs=1e-12, nan_ok=True)
        assert float(kappa_quadratic_batched(a, b)) == pytest.approx(expected, abs=1e-9, nan_ok=True)
    batch = rng.integers(1, 6, (4, 30)).astype(float)
    other = np.clip(batch + rng.integers(-1, 2, (4, 30)), 1, 5)
    rows = kappa_quadratic_batched(batch, other, axis=-1)
    assert list(rows) == pytest.approx([statsmodels_kappa(batch[i], other[i]) for i in range(4)])


def test_spearman_batched_equals_spearmanr() -> None:
    rng = np.random.default_rng(6)
    a = rng.integers(1, 6, (5, 40)).astype(float)
    b = a + rng.normal(0, 1, (5, 40))
    assert list(spearman_batched(a, b)) == pytest.approx(
        [stats.spearmanr(a[i], b[i]).statistic for i in range(5)]
    )


def test_estimates_match_the_libraries_and_intervals_are_seeded() -> None:
    rng = np.random.default_rng(7)
    human = rng.integers(1, 6, 40).astype(float)
    judge = np.clip(human + 1 + rng.normal(0, 0.5, 40), 1, 5)
    mae = paired_estimate(MAE, judge, human, resamples=500, seed=3)
    assert mae.value == pytest.approx(float(np.mean(np.abs(judge - human))))
    assert mae.ci_low is not None and mae.ci_high is not None and mae.ci_low < mae.value < mae.ci_high
    again = paired_estimate(MAE, judge, human, resamples=500, seed=3)
    assert (again.ci_low, again.ci_high) == (mae.ci_low, mae.ci_high)
    direct = stats.bootstrap(
        (judge, human),
        lambda a, b, axis=-1: np.mean(np.abs(a - b), axis=axis),
        paired=True,
        vectorized=True,
        n_resamples=500,
        method="percentile",
        rng=np.random.default_rng(3),
    ).confidence_interval
    assert (mae.ci_low, mae.ci_high) == pytest.approx((direct.low, direct.high))
    rho = paired_estimate(SPEARMAN, judge, human, resamples=0)
    assert rho.value == pytest.approx(stats.spearmanr(judge, human).statistic)
    assert (rho.ci_low, rho.ci_high, rho.n) == (None, None, 40)
    assert paired_estimate(KAPPA, judge, human, resamples=0).value == pytest.approx(
        statsmodels_kappa(judge, human)
    )


def test_undefined_figures_are_none_not_zero() -> None:
    constant = paired_estimate(SPEARMAN, [3, 3, 3, 3, 3, 3], [1, 2, 3, 4, 5, 5])
    assert constant.value is None and constant.n == 6
    assert paired_estimate(MAE, [3.0], [4.0]).value is None  # one pair is no sample
    assert alpha_estimate(np.array([[1.0, 2.0], [np.nan, np.nan]])).value is None  # no unit with two values
    same = alpha_estimate(np.array([[3.0, 3.0, 3.0], [3.0, 3.0, 3.0]]))
    assert same.value is None and same.n == 3


def test_alpha_matches_krippendorff_and_ignores_single_reviews() -> None:
    rng = np.random.default_rng(8)
    truth = rng.integers(1, 6, 30).astype(float)
    matrix = np.vstack([truth, np.clip(truth + rng.integers(-1, 2, 30), 1, 5), np.full(30, np.nan)])
    matrix[1, 20:] = np.nan  # ten traces reviewed once
    matrix[2, 25:] = truth[25:]
    estimate = alpha_estimate(matrix, resamples=200, seed=1)
    expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="ordinal")
    assert estimate.value == pytest.approx(expected)
    assert estimate.n == 25
    assert (
        estimate.ci_low is not None and estimate.ci_high is not None and estimate.ci_low <= estimate.ci_high
    )


def test_monotone_map_is_isotonic_regression_of_pooled_scores() -> None:
    judge = [1, 2, 2, 3, 4, 4, 5]
    human = [2.0, 3.0, 2.0, 4.0, 3.0, 3.0, 5.0]
    fitted = fit_monotone(judge, human)
    assert fitted.x == (1.0, 2.0, 3.0, 4.0, 5.0)
    expected = isotonic_regression([2.0, 2.5, 4.0, 3.0, 5.0], weights=[1, 2, 1, 2, 1]).x
    assert list(fitted.y) == pytest.approx(list(expected), abs=1e-4)
    assert all(a <= b for a, b in zip(fitted.y, fitted.y[1:], strict=False))
    assert fitted(0.0) == fitted.y[0] and fitted(9.0) == fitted.y[-1]  # held at the ends
    assert fitted(1.5) == pytest.approx((fitted.y[0] + fitted.y[1]) / 2, abs=1e-3)
    assert MonotoneMap.from_json(fitted.as_json()) == fitted
    with pytest.raises(ValueError):
        MonotoneMap.from_json({"x": [1, 2], "y": [1]})


def test_holdout_split_is_seeded_and_disjoint() -> None:
    fit, held = split_holdout(40, 0.25, seed=4)
    assert len(held) == 10 and len(fit) == 30 and not set(fit) & set(held)
    again = split_holdout(40, 0.25, seed=4)
    assert list(again[1]) == list(held) and list(split_holdout(40, 0.25, seed=5)[1]) != list(held)
    assert [len(part) for part in split_holdout(2, 0.05, seed=0)] == [1, 1]


def test_calibration_reduces_error_for_a_biased_judge() -> None:
    rng = np.random.default_rng(9)
    pairs = []
    for i in range(80):
        human = float(rng.integers(1, 6))
        judge = float(min(5.0, human + 1 + rng.normal(0, 0.3)))
        judged = {"overall": judge, "consistency": min(5.0, human + 1)}
        pairs.append(Pair(f"t{i}", judged, {"overall": human, "consistency": human}))
    fit = fit_calibration(pairs, holdout=0.25, seed=0)
    overall = fit.metrics["dimensions"]["overall"]
    assert overall["holdout_count"] == 20 and overall["fit_count"] == 60
    assert overall["mae_before"] > 0.7 and overall["mae_after"] < 0.4
    assert fit.metrics["mae_before"] == overall["mae_before"]
    scores = calibrated_scores(
        fit.mapping, {"reasoning_score": 5.0, "criteria": {"consistency": 5, "other": 2}}
    )
    assert (
        scores is not None and scores["reasoning_score"] < 5.0 and set(scores["criteria"]) == {"consistency"}
    )
    assert calibrated_scores(fit.mapping, {"reasoning_score": None}) is None


def test_bootstrap_work_is_bounded() -> None:
    from bugtrail.agreement.service import bootstrap_resamples

    assert bootstrap_resamples(1000, 300) == 1000
    assert bootstrap_resamples(1000, 5000) == 200
    assert bootstrap_resamples(10_000, 200) == 5000
    assert bootstrap_resamples(0, 10) == 0
