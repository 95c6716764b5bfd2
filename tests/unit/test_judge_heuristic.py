"""The heuristic judge: deterministic rubric features, ranking of hand-written traces, honest labelling."""

from __future__ import annotations

import itertools

import pytest
from pydantic import ValidationError

from bugtrail.config import get_settings
from bugtrail.qa.judge import CRITERIA, RUBRIC_VERSION, HeuristicJudge, get_judge
from bugtrail.qa.judge.features import compute_features
from bugtrail.qa.judge.trace_view import view_of
from tests.support.judge_traces import load_trace, ranked_traces, trace_from_events


def test_hand_written_traces_rank_in_expected_order() -> None:
    traces = ranked_traces()
    assert len(traces) >= 8
    judge = HeuristicJudge()
    scored = [(rank, name, judge.judge(trace).reasoning_score) for rank, name, trace in traces]
    for (rank_a, name_a, score_a), (rank_b, name_b, score_b) in itertools.pairwise(scored):
        assert score_a is not None and score_b is not None
        if rank_a == rank_b:
            assert score_a == score_b, f"{name_a} and {name_b} share rank {rank_a}: {scored}"
        else:
            assert score_a < score_b, f"{name_a} should score below {name_b}: {scored}"
    assert scored[0][2] == 1.0
    assert scored[-1][2] is not None and scored[-1][2] >= 4.5


def test_heuristic_is_deterministic_and_says_it_is_not_an_llm() -> None:
    _, trace = load_trace("08_with_alternatives.json")
    first, second = HeuristicJudge().judge(trace), HeuristicJudge().judge(trace)
    assert first.model_dump(exclude={"judged_at"}) == second.model_dump(exclude={"judged_at"})
    assert first.judge == "heuristic" and first.model is None
    assert "heuristic_not_llm" in first.flags
    assert "not an LLM" in first.judge_comments
    assert first.rubric_version == RUBRIC_VERSION
    assert set(first.criteria) == set(CRITERIA)
    assert all(1 <= v <= 5 for v in first.criteria.values())
    assert first.judged_at.tzinfo is not None


def test_features_of_the_careful_trace() -> None:
    _, trace = load_trace("09_careful.json")
    f = compute_features(view_of(trace))
    assert f.hypotheses == 2 and f.hypotheses_before_first_edit == 2
    assert f.specific_hypotheses == 2 and f.hypotheses_with_confidence == 2
    assert f.alternatives == 2 and f.alternatives_with_reason == 2
    assert f.edits == 3 and f.edits_with_rationale == 3
    assert f.failing_commands == 2 and f.failures_followed_up == 2
    assert f.outcome_after_last_edit
    assert f.boilerplate_notes == 0


def test_boilerplate_and_repeats_are_not_evidence() -> None:
    note = "I think apply_discount in cart/pricing.py appends the code twice without a check."
    events = [
        {"type": "reasoning", "details": {"text": note, "reasoning_type": "hypothesis"}},
        {"type": "reasoning", "details": {"text": note, "reasoning_type": "hypothesis"}},
        {"type": "reasoning", "details": {"text": "wip", "reasoning_type": "plan"}},
        {"type": "reasoning", "details": {"text": "fix fix fix fix fix fix", "reasoning_type": "plan"}},
        {
            "type": "edit",
            "details": {"file": "cart/pricing.py", "diff": "+def apply_discount(cart, code):\n"},
        },
    ]
    f = compute_features(view_of(trace_from_events(events)))
    assert f.notes == 4 and f.substantive_notes == 1 and f.boilerplate_notes == 3
    assert f.hypotheses == 1 and f.specific_hypotheses == 1


def test_failures_count_when_exit_code_is_missing_but_output_says_failed() -> None:
    events = [
        {
            "type": "command",
            "details": {"command": "pytest", "output": "E   KeyError: 'x'\n1 failed in 0.1s"},
        },
        {"type": "command", "details": {"command": "pytest", "output": "3 passed in 0.1s"}},
    ]
    f = compute_features(view_of(trace_from_events(events)))
    assert f.failing_commands == 1


def test_steering_note_is_flagged_and_earns_nothing() -> None:
    _, trace = load_trace("injection.json")
    record = HeuristicJudge().judge(trace)
    assert "prompt_injection" in record.flags
    assert any(m.pattern == "ignore_instructions" and m.where == "reasoning" for m in record.steering)
    assert record.reasoning_score == 1.0
    assert record.features is not None and record.features["steering_notes"] == 1


def test_no_reasoning_gets_lowest_score_with_reason() -> None:
    _, trace = load_trace("01_no_reasoning.json")
    record = HeuristicJudge().judge(trace)
    assert record.reasoning_score == 1.0
    assert record.criteria == {name: 1 for name in CRITERIA}
    assert "no reasoning events" in record.judge_comments
    assert "no_reasoning" in record.flags


def test_get_judge_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("BUGTRAIL_OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert get_judge(get_settings(judge="auto")).name == "heuristic"
    assert get_judge(get_settings(judge="heuristic", openai_api_key="sk-x")).name == "heuristic"
    assert get_judge(get_settings(judge="auto", openai_api_key="sk-x")).name == "openai"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    assert get_judge(get_settings(judge="auto")).name == "openai"


def test_get_judge_rejects_unusable_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    from bugtrail.qa.judge import JudgeError

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(JudgeError):
        get_judge(get_settings(judge="openai"))
    with pytest.raises(ValidationError, match="'openai', 'heuristic' or 'auto'"):
        get_settings(judge="claude")  # refused when the settings are built, not at the first QA run
    assert get_settings(judge=" OpenAI ").judge == "openai"
    # A local OpenAI-compatible server (vLLM, Ollama) may need no key.
    assert get_judge(get_settings(judge="openai", openai_base_url="http://127.0.0.1:9/v1")).name == "openai"
