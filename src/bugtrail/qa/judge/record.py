"""What every judge returns: one JudgeRecord per judged trace, stored as JSON in qa_result.result["judge"]."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pydantic import AwareDatetime, BaseModel, Field

from bugtrail.errors import BugtrailError
from bugtrail.wire import TraceRead

CRITERIA: tuple[str, ...] = (
    "hypothesis_quality",
    "alternatives_considered",
    "change_rationale",
    "learning_from_failures",
    "consistency",
)

FLAG_PROMPT_INJECTION = "prompt_injection"
FLAG_NO_REASONING = "no_reasoning"
FLAG_HEURISTIC = "heuristic_not_llm"
FLAG_TRIMMED = "trace_trimmed"
FLAG_SCORE_CAPPED = "score_capped"


class JudgeError(BugtrailError):
    """The judge cannot be built (bad configuration). Judging failures are records with `error` set."""

    status_code = 500


class SteeringMatch(BaseModel):
    """One passage of trace text that tries to address or steer the judge."""

    seq: int | None = Field(description="event seq; None for the bug description")
    where: str = Field(description="which field: reasoning, command, output, diff, change, bug_description")
    pattern: str
    excerpt: str


class CalibratedScore(BaseModel):
    """The judge's scores mapped to the human scale by the active calibration (agreement.calibration)."""

    calibration_id: int
    version: int
    reasoning_score: float | None = Field(description="calibrated overall; None if the map has no overall")
    criteria: dict[str, float] = Field(default_factory=dict)
    applied_at: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))


class JudgeRecord(BaseModel):
    judge: Literal["openai", "heuristic"]
    model: str | None = Field(default=None, description="model actually asked; None when none was called")
    rubric_version: str
    criteria: dict[str, int] = Field(
        default_factory=dict, description="1-5 per criterion in CRITERIA; empty when error is set"
    )
    reasoning_score: float | None = Field(default=None, ge=1.0, le=5.0, description="None when error is set")
    judge_comments: str = ""
    flags: list[str] = Field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tokens_estimated: bool = Field(default=False, description="true when the server did not report usage")
    latency_ms: int = 0
    attempts: int = Field(default=0, description="model calls made (0 for heuristic or no-reasoning traces)")
    attempt_errors: list[str] = Field(default_factory=list, description="why each failed attempt failed")
    judged_at: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    error: str | None = None
    trimmed: dict[str, Any] | None = Field(
        default=None, description="what was cut to fit the token budget (openai judge)"
    )
    steering: list[SteeringMatch] = Field(default_factory=list, description="text that tries to steer")
    evidence_score: float | None = Field(
        default=None, description="heuristic evidence score; the cap applied when steering is found"
    )
    uncapped_score: float | None = Field(default=None, description="model's score before any cap")
    features: dict[str, Any] | None = Field(default=None, description="heuristic rubric features")
    heuristic_version: str | None = None
    calibrated: CalibratedScore | None = Field(
        default=None, description="the scores on the human scale; reasoning_score/criteria stay the raw ones"
    )


class Judge(Protocol):
    name: str

    def judge(self, trace: TraceRead) -> JudgeRecord: ...
