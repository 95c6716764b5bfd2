"""Agreement statistics, each computed by a well-kept library, with bootstrap confidence intervals.

- Krippendorff's alpha, ordinal metric (`krippendorff`): reliability data is reviewers x traces, a missing
  review is NaN; traces with one review add nothing (the library ignores them).
- Weighted Cohen's kappa, quadratic weights (`statsmodels.stats.inter_rater.cohens_kappa`) on a fixed
  half-point grid 1.0, 1.5, ..., 5.0, so the weights follow the score distance whatever values occur.
- Spearman's rank correlation (`scipy.stats.spearmanr`) and mean absolute error.
- Confidence intervals: `scipy.stats.bootstrap`, percentile method, resampling traces (units) with a fixed
  seed, so the same data always gives the same interval. An interval is None when it cannot be had: too few
  units, or resamples where the figure is undefined (e.g. every score identical).
A figure that is undefined on the data itself (constant scores, no pairs) is None, never 0.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

# krippendorff, statsmodels and scipy.stats are imported where they are used: together they take seconds to
# import, and the server, the worker and every CLI command import this module.

GRID = np.arange(1.0, 5.0 + 0.25, 0.5)  # the categories kappa is computed on
MIN_UNITS_FOR_CI = 5
DEFAULT_RESAMPLES = 1000
DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int


def to_grid(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Scores on the half-point grid (half up): 3.74 -> 3.5, 3.75 -> 4.0; clipped to 1-5."""
    array = np.asarray(values, dtype=float)
    return np.clip(np.floor(array * 2 + 0.5) / 2, 1.0, 5.0)


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _quiet(statistic: Callable[..., float]) -> Callable[..., float]:
    """The statistic, with NaN for data it is undefined on (and no warnings about it)."""

    def wrapped(*args: np.ndarray) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                return float(statistic(*args))
            except (ValueError, ZeroDivisionError, FloatingPointError):
                return math.nan

    return wrapped


def alpha_ordinal(reliability: np.ndarray) -> float:
    """Krippendorff's alpha (ordinal) of a raters x units matrix with NaN for missing values."""
    import krippendorff

    return float(krippendorff.alpha(reliability_data=reliability, level_of_measurement="ordinal"))


def _alpha_of_counts(value_counts: np.ndarray, domain: np.ndarray) -> float:
    """Alpha from units x values counts (the library's other input form: no matrix to re-tabulate, so a
    bootstrap resample is a selection of rows)."""
    import krippendorff

    return float(
        krippendorff.alpha(value_counts=value_counts, value_domain=domain, level_of_measurement="ordinal")
    )


def kappa_quadratic(a: np.ndarray, b: np.ndarray) -> float:
    """Quadratic-weighted Cohen's kappa of two paired score arrays, on the half-point grid."""
    rows = np.searchsorted(GRID, to_grid(a))
    cols = np.searchsorted(GRID, to_grid(b))
    table = np.zeros((len(GRID), len(GRID)))
    np.add.at(table, (rows, cols), 1)
    from statsmodels.stats.inter_rater import cohens_kappa

    result = cohens_kappa(table, weights=GRID, wt="quadratic", return_results=False)
    return float(result)


def kappa_quadratic_batched(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    """The same kappa along `axis`, for the bootstrap's thousands of resamples (statsmodels takes one
    table per call, about 1 ms each). With quadratic weights on the category scores, observed and expected
    disagreement are mean((x-y)^2) and var(x)+var(y)+(mean x - mean y)^2; tests hold it to statsmodels."""
    x, y = to_grid(a), to_grid(b)
    observed = np.mean((x - y) ** 2, axis=axis)
    expected = (
        np.var(x, axis=axis) + np.var(y, axis=axis) + (np.mean(x, axis=axis) - np.mean(y, axis=axis)) ** 2
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(expected > 0, 1.0 - observed / np.where(expected > 0, expected, 1.0), np.nan)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy import stats

    return float(stats.spearmanr(a, b).statistic)


def spearman_batched(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    """Spearman's rho along `axis` (Pearson on average ranks, as spearmanr defines it), for the bootstrap's
    vectorized calls: spearmanr itself takes one pair of samples at a time and is 20x slower there."""
    from scipy import stats

    ranked_a = stats.rankdata(a, axis=axis)
    ranked_b = stats.rankdata(b, axis=axis)
    return np.asarray(stats.pearsonr(ranked_a, ranked_b, axis=axis).statistic)


def mean_absolute_error(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float)), axis=axis)


@dataclass(frozen=True)
class Statistic:
    """A paired statistic; `batched` (if any) computes it along an axis for the bootstrap's batches."""

    name: str
    single: Callable[[np.ndarray, np.ndarray], float]
    batched: Callable[..., np.ndarray] | None = None


KAPPA = Statistic("kappa", kappa_quadratic, kappa_quadratic_batched)
SPEARMAN = Statistic("spearman", spearman, spearman_batched)
MAE = Statistic("mae", lambda a, b: float(mean_absolute_error(a, b)), mean_absolute_error)


def _interval(
    data: tuple[np.ndarray, ...],
    statistic: Callable[..., float] | Callable[..., np.ndarray],
    paired: bool,
    vectorized: bool,
    resamples: int,
    seed: int,
    confidence: float,
) -> tuple[float | None, float | None]:
    n = len(data[0])
    if resamples <= 0 or n < MIN_UNITS_FOR_CI:
        return None, None
    from scipy import stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = stats.bootstrap(
            data,
            statistic,
            n_resamples=resamples,
            paired=paired,
            vectorized=vectorized,
            confidence_level=confidence,
            method="percentile",
            rng=np.random.default_rng(seed),
        )
    return _finite(result.confidence_interval.low), _finite(result.confidence_interval.high)


def paired_estimate(
    statistic: Statistic,
    a: Sequence[float],
    b: Sequence[float],
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Estimate:
    """A figure over paired scores (one pair per trace) with its bootstrap interval (traces resampled)."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(x) < 2:
        return Estimate(None, None, None, len(x))
    value = _finite(_quiet(statistic.single)(x, y))
    if value is None:
        return Estimate(None, None, None, len(x))
    if statistic.batched is not None:
        low, high = _interval((x, y), statistic.batched, True, True, resamples, seed, confidence)
    else:
        low, high = _interval((x, y), _quiet(statistic.single), True, False, resamples, seed, confidence)
    return Estimate(value, low, high, len(x))


def alpha_estimate(
    reliability: np.ndarray,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Estimate:
    """Alpha over the units (columns) that have at least two values; the interval resamples those units."""
    matrix = np.asarray(reliability, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] < 2:
        return Estimate(None, None, None, 0)
    pairable = np.sum(~np.isnan(matrix), axis=0) >= 2
    matrix = matrix[:, pairable]
    units = matrix.shape[1]
    if units < 1:
        return Estimate(None, None, None, 0)
    value = _finite(_quiet(alpha_ordinal)(matrix))
    if value is None:
        return Estimate(None, None, None, units)
    domain = np.unique(matrix[~np.isnan(matrix)])
    counts = (matrix.T[:, :, None] == domain[None, None, :]).sum(axis=1)  # units x values
    quiet = _quiet(_alpha_of_counts)

    def on_units(index: np.ndarray) -> float:
        return quiet(counts[index.astype(int)], domain)

    low, high = _interval((np.arange(units),), on_units, False, False, resamples, seed, confidence)
    return Estimate(value, low, high, units)
