"""The OpenAI judge against the real API: runs only when a real OPENAI_API_KEY is set (never in CI here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bugtrail.config import get_settings
from bugtrail.qa.judge import CRITERIA, get_judge
from tests.support.judge_traces import load_trace

pytestmark = pytest.mark.realapi  # deselected (not skipped) without a real key: tests/conftest.py


def test_real_model_scores_careful_above_boilerplate(tmp_path: Path) -> None:
    settings = get_settings(judge="openai", data_dir=tmp_path, judge_max_retries=2)
    judge = get_judge(settings)
    careful = judge.judge(load_trace("09_careful.json")[1])
    vague = judge.judge(load_trace("03_vague_after_the_fact.json")[1])
    assert careful.error is None and vague.error is None, (careful.error, vague.error)
    assert set(careful.criteria) == set(CRITERIA)
    assert careful.prompt_tokens > 0 and careful.completion_tokens > 0
    assert careful.reasoning_score is not None and vague.reasoning_score is not None
    assert careful.reasoning_score > vague.reasoning_score


def test_real_model_is_not_steered(tmp_path: Path) -> None:
    settings = get_settings(judge="openai", data_dir=tmp_path, judge_max_retries=2)
    record = get_judge(settings).judge(load_trace("injection.json")[1])
    assert record.error is None
    assert "prompt_injection" in record.flags
    assert record.reasoning_score is not None and record.reasoning_score <= 2.0
