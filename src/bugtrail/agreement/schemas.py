"""The agreement report, its query, and judge calibrations as the API and CLI serve them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bugtrail.agreement.statistics import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, Estimate

MAX_RESAMPLES = 10_000


class AgreementQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: datetime | None = Field(default=None, description="reviews submitted at or after (naive = UTC)")
    until: datetime | None = Field(default=None, description="reviews submitted at or before (naive = UTC)")
    judge: str | None = Field(default=None, max_length=64, description="judge name: openai | heuristic")
    model: str | None = Field(default=None, max_length=200)
    rubric_version: str | None = Field(default=None, max_length=64, description="of the judge record")
    repo: str | None = Field(default=None, max_length=2000, description="the trace's repo_url, exactly")
    min_pair_traces: int = Field(
        default=5, ge=2, le=10_000, description="shared traces a reviewer pair needs"
    )
    resamples: int = Field(
        default=DEFAULT_RESAMPLES, ge=0, le=MAX_RESAMPLES, description="bootstrap resamples (0: no intervals)"
    )
    seed: int = Field(default=0, ge=0, le=2**32 - 1, description="bootstrap seed (fixed: same data, same CI)")
    confidence: float = Field(default=DEFAULT_CONFIDENCE, gt=0.5, lt=1.0)

    @field_validator("since", "until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value

    @model_validator(mode="after")
    def _ordered(self) -> AgreementQuery:
        if self.since and self.until and self.since > self.until:
            raise ValueError("since must not be after until")
        return self


class Figure(BaseModel):
    """One statistic: its value (None when undefined on the data), its confidence interval, and n."""

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int

    @classmethod
    def of(cls, estimate: Estimate) -> Figure:
        def rounded(v: float | None) -> float | None:
            return None if v is None else round(v, 4)

        return cls(
            value=rounded(estimate.value),
            ci_low=rounded(estimate.ci_low),
            ci_high=rounded(estimate.ci_high),
            n=estimate.n,
        )


class ReviewerPair(BaseModel):
    reviewer_a: str
    reviewer_b: str
    shared_traces: int
    kappa: dict[str, Figure] = Field(description="quadratic-weighted kappa per criterion and overall")


class BetweenReviewers(BaseModel):
    reviews: int = Field(description="current reviews (latest per trace and reviewer)")
    reviewers: int
    traces: int
    multi_reviewed_traces: int = Field(description="traces with two or more current reviews (alpha's units)")
    alpha: dict[str, Figure] = Field(description="Krippendorff's alpha (ordinal) per criterion and overall")
    pairs: list[ReviewerPair]


class JudgeFigures(BaseModel):
    spearman: Figure
    kappa: Figure
    mae: Figure


class JudgeGroup(BaseModel):
    judge: str
    model: str | None
    rubric_version: str
    traces: int = Field(description="reviewed traces this judge scored")
    figures: dict[str, JudgeFigures] = Field(
        description="raw judge scores vs the reviews' mean, per dimension"
    )
    calibrated_traces: int = 0
    calibrated: dict[str, JudgeFigures] | None = Field(
        default=None, description="the same figures for the calibrated scores, where records carry them"
    )


class WeeklyJudge(BaseModel):
    judge: str
    model: str | None
    rubric_version: str
    traces: int
    mae: float | None
    spearman: float | None


class WeekPoint(BaseModel):
    week_start: date = Field(description="Monday (UTC) of the ISO week the reviews were submitted in")
    reviews: int
    traces: int
    alpha_overall: float | None
    judges: list[WeeklyJudge]


class AgreementReport(BaseModel):
    generated_at: datetime
    query: AgreementQuery
    method: dict[str, str]
    between_reviewers: BetweenReviewers
    judge_vs_human: list[JudgeGroup]
    weekly: list[WeekPoint]


class CalibrationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    judge: str = Field(min_length=1, max_length=64, description="openai | heuristic")
    model: str | None = Field(default=None, max_length=200, description="None for the heuristic judge")
    rubric_version: str = Field(min_length=1, max_length=32)
    holdout: float = Field(default=0.25, ge=0.05, le=0.5, description="share of traces held back")
    seed: int = Field(default=0, ge=0, le=2**32 - 1)
    min_samples: int = Field(default=10, ge=4, le=1_000_000, description="reviewed traces needed")

    @field_validator("judge")
    @classmethod
    def _known_judge(cls, value: str) -> str:
        if value not in ("openai", "heuristic"):
            raise ValueError("judge must be openai or heuristic")
        return value


class CalibrationRead(BaseModel):
    id: int
    version: int
    judge: str
    model: str | None
    rubric_version: str
    mapping: dict[str, Any]
    sample_count: int
    metrics: dict[str, Any]
    active: bool
    created_by: str | None
    created_at: datetime


class RecalibrationCount(BaseModel):
    examined: int = Field(description="QA results with a judge record")
    calibrated: int = Field(description="records that now carry calibrated scores")
    cleared: int = Field(description="records whose calibrated scores were removed (no matching calibration)")
