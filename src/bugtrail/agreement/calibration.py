"""Judge calibration, pure: fit a monotone map from judge scores to the human scale, apply it, measure it.

The map is isotonic regression (`scipy.optimize.isotonic_regression`) of the human score on the judge
score: the best non-decreasing step fit in squared error, so a higher judge score never maps lower. Equal
judge scores are pooled first (mean human score, weighted by count). Between fitted points the map is
linear (`numpy.interp`); outside them it holds the end values. One map per criterion and one for "overall"
(judge reasoning_score -> the reviews' mean overall).

A seeded random share of the traces (holdout) is held back from the fit; the mean absolute error on them
before (raw judge score) and after (calibrated) says whether the map helps on data it has not seen. The
stored map is the one fitted on the rest, so the reported figures describe exactly what is applied.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bugtrail.qa.judge.record import CRITERIA

OVERALL = "overall"
DIMENSIONS: tuple[str, ...] = (*CRITERIA, OVERALL)


@dataclass(frozen=True)
class MonotoneMap:
    x: tuple[float, ...]
    y: tuple[float, ...]

    def __call__(self, value: float) -> float:
        return round(float(np.interp(value, self.x, self.y)), 3)

    def as_json(self) -> dict[str, list[float]]:
        return {"x": list(self.x), "y": list(self.y)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MonotoneMap:
        x, y = data.get("x"), data.get("y")
        if not isinstance(x, list) or not isinstance(y, list) or len(x) != len(y) or not x:
            raise ValueError("a calibration map needs equally long, non-empty x and y lists")
        return cls(tuple(float(v) for v in x), tuple(float(v) for v in y))


def fit_monotone(judge: Sequence[float], human: Sequence[float]) -> MonotoneMap:
    """The isotonic (non-decreasing) map from judge to human scores; needs at least one pair."""
    x = np.asarray(judge, dtype=float)
    y = np.asarray(human, dtype=float)
    if len(x) == 0 or len(x) != len(y):
        raise ValueError("fit_monotone needs equally many judge and human scores, at least one")
    from scipy.optimize import isotonic_regression  # seconds to import: only where a map is fitted

    levels, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    means = np.bincount(inverse, weights=y) / counts
    fitted = isotonic_regression(means, weights=counts, increasing=True).x
    return MonotoneMap(tuple(float(v) for v in levels), tuple(round(float(v), 4) for v in fitted))


def split_holdout(count: int, holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit indices, held-back indices): a seeded permutation; at least one of each when count >= 2."""
    order = np.random.default_rng(seed).permutation(count)
    held = round(count * holdout)
    held = min(max(held, 1 if holdout > 0 else 0), count - 1)
    return np.sort(order[held:]), np.sort(order[:held])


@dataclass(frozen=True)
class Pair:
    """One reviewed trace: the judge's scores and the people's (mean of the current reviews)."""

    trace_id: str
    judge: dict[str, float]
    human: dict[str, float]


@dataclass(frozen=True)
class Fit:
    mapping: dict[str, dict[str, list[float]]]
    metrics: dict[str, Any]
    sample_count: int


def _mae(a: np.ndarray, b: np.ndarray) -> float | None:
    return round(float(np.mean(np.abs(a - b))), 4) if len(a) else None


def fit_calibration(pairs: Sequence[Pair], holdout: float, seed: int) -> Fit:
    """Maps per dimension fitted on the non-held-back pairs, with before/after MAE on the held-back ones."""
    fit_index, held_index = split_holdout(len(pairs), holdout, seed)
    mapping: dict[str, dict[str, list[float]]] = {}
    per_dimension: dict[str, dict[str, Any]] = {}
    for name in DIMENSIONS:
        usable = {i for i, p in enumerate(pairs) if name in p.judge and name in p.human}
        fit_rows = [int(i) for i in fit_index if i in usable]
        held_rows = [int(i) for i in held_index if i in usable]
        if not fit_rows:
            continue
        fitted = fit_monotone(
            [pairs[i].judge[name] for i in fit_rows], [pairs[i].human[name] for i in fit_rows]
        )
        mapping[name] = fitted.as_json()
        raw = np.array([pairs[i].judge[name] for i in held_rows], dtype=float)
        human = np.array([pairs[i].human[name] for i in held_rows], dtype=float)
        calibrated = np.array([fitted(v) for v in raw], dtype=float)
        per_dimension[name] = {
            "fit_count": len(fit_rows),
            "holdout_count": len(held_rows),
            "mae_before": _mae(raw, human),
            "mae_after": _mae(calibrated, human),
        }
    metrics = {
        "holdout": holdout,
        "seed": seed,
        "fit_count": len(fit_index),
        "holdout_count": len(held_index),
        "dimensions": per_dimension,
        "mae_before": per_dimension.get(OVERALL, {}).get("mae_before"),
        "mae_after": per_dimension.get(OVERALL, {}).get("mae_after"),
    }
    return Fit(mapping=mapping, metrics=metrics, sample_count=len(pairs))


def calibrated_scores(mapping: Mapping[str, Any], judge_record: Mapping[str, Any]) -> dict[str, Any] | None:
    """The calibrated reasoning_score and criteria of a judge record (None when it has no score)."""
    score = judge_record.get("reasoning_score")
    if not isinstance(score, int | float) or isinstance(score, bool):
        return None
    maps = {name: MonotoneMap.from_json(points) for name, points in mapping.items() if name in DIMENSIONS}
    criteria = judge_record.get("criteria") or {}
    calibrated_criteria = {
        name: maps[name](float(value))
        for name, value in criteria.items()
        if name in maps and isinstance(value, int | float) and not isinstance(value, bool)
    }
    overall = maps[OVERALL](float(score)) if OVERALL in maps else None
    return {"reasoning_score": overall, "criteria": calibrated_criteria}
