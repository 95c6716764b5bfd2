"""The reasoning judge: scores a finished trace's reasoning against a versioned 1-5 rubric.

    from bugtrail.qa.judge import get_judge, JudgeRecord, JudgeError
    record = get_judge(settings).judge(trace)      # trace: wire.TraceRead (qa_results: qa.result.QaResult)
    # qa.pipeline.build_result puts record.model_dump(mode="json") into QaResult.judge

BUGTRAIL_JUDGE picks the judge: `openai` (any OpenAI-compatible server: OPENAI_API_KEY, OPENAI_BASE_URL,
BUGTRAIL_JUDGE_MODEL), `heuristic` (offline, deterministic), or `auto` (openai when OPENAI_API_KEY is set).
judge() does not raise for judging failures: it returns a record with `error` set and `reasoning_score`
None. JudgeError is raised only by get_judge() for a configuration that cannot work.
"""

from __future__ import annotations

from bugtrail.config import Settings
from bugtrail.qa.judge.heuristic import HeuristicJudge
from bugtrail.qa.judge.record import CRITERIA, Judge, JudgeError, JudgeRecord, SteeringMatch
from bugtrail.qa.judge.rubric import RUBRIC_VERSION

__all__ = [
    "CRITERIA",
    "RUBRIC_VERSION",
    "HeuristicJudge",
    "Judge",
    "JudgeError",
    "JudgeRecord",
    "SteeringMatch",
    "get_judge",
    "judge_choice",
]


def judge_choice(settings: Settings) -> str:
    # settings.judge is validated when the settings are built (openai | heuristic | auto).
    if settings.judge == "auto":
        return "openai" if settings.openai_api_key else "heuristic"
    return settings.judge


def get_judge(settings: Settings) -> Judge:
    if judge_choice(settings) == "heuristic":
        return HeuristicJudge()
    if not settings.openai_api_key and not settings.openai_base_url:
        raise JudgeError(
            "BUGTRAIL_JUDGE=openai needs OPENAI_API_KEY (or OPENAI_BASE_URL for a server that needs no key)"
        )
    from bugtrail.qa.judge.openai_judge import OpenAIJudge

    return OpenAIJudge(settings)
