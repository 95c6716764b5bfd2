"""LLM judge over any OpenAI-compatible chat completions endpoint (official `openai` SDK).

One request per attempt: temperature 0, strict JSON-schema structured output, the trace fenced as data
within the token budget. Retries (at most settings.judge_max_retries after the first attempt):
- 408/409/429/5xx, timeouts and connection errors: wait (Retry-After when the server sends it, else
  judge_retry_base_s * 2**n with jitter, capped) and send the same request again;
- an invalid answer (not JSON, wrong shape, out-of-range scores, refusal, cut off): ask again at once with
  a short correction message.
Other 4xx errors are not retried. When no valid answer arrives, the record has `error` set and
`reasoning_score` None: a judge failure is never turned into a score.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from bugtrail.config import Settings
from bugtrail.qa.judge.heuristic import judge_view
from bugtrail.qa.judge.no_reasoning import has_reasoning, no_reasoning_record
from bugtrail.qa.judge.prompt import Prompt, build_prompt, correction
from bugtrail.qa.judge.record import (
    CRITERIA,
    FLAG_PROMPT_INJECTION,
    FLAG_SCORE_CAPPED,
    FLAG_TRIMMED,
    JudgeRecord,
)
from bugtrail.qa.judge.rubric import RUBRIC_VERSION, JudgeAnswer
from bugtrail.qa.judge.steering import find_steering
from bugtrail.qa.judge.tokens import estimate_tokens
from bugtrail.qa.judge.trace_view import view_of
from bugtrail.wire import TraceRead

MAX_BACKOFF_S = 20.0
MAX_RETRY_AFTER_S = 60.0
RETRYABLE_STATUS = frozenset({408, 409, 429})


@dataclass
class _Exchange:
    answer: JudgeAnswer | None = None
    error: str | None = None
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tokens_estimated: bool = False
    latency_ms: int = 0
    attempt_errors: list[str] = field(default_factory=list)


def _retry_after(headers: Any) -> float | None:
    try:
        value = headers.get("retry-after") if headers is not None else None
        return None if value is None else max(0.0, min(MAX_RETRY_AFTER_S, float(value)))
    except (TypeError, ValueError):
        return None


class OpenAIJudge:
    name = "openai"

    def __init__(
        self,
        settings: Settings,
        client: Any | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import openai

        self.settings = settings
        self.model = settings.judge_model
        self._sleep = sleep
        self._openai = openai
        self._given_client = client

    def _new_client(self) -> Any:
        # The SDK's own retries are off: this class retries, so attempts and waits are counted in the record.
        return self._openai.OpenAI(
            api_key=self.settings.openai_api_key or "not-needed-by-this-server",
            base_url=self.settings.openai_base_url or None,
            timeout=self.settings.judge_timeout_s,
            max_retries=0,
        )

    def judge(self, trace: TraceRead) -> JudgeRecord:
        view = view_of(trace)
        if not has_reasoning(view):
            return no_reasoning_record("openai", view)
        steering = find_steering(view)
        evidence = judge_view(view, steering)  # the evidence: the cap when the trace tries to steer
        prompt = build_prompt(view, self.settings.judge_token_budget, steering)
        # One HTTP client per judged trace, closed after: a worker judges for days and must not leak sockets.
        client = self._given_client or self._new_client()
        try:
            exchange = self._exchange(client, prompt)
        finally:
            if client is not self._given_client:
                client.close()

        flags = (
            [FLAG_TRIMMED]
            if prompt.trimmed.get("events_omitted") or prompt.trimmed.get("chars_cut_from_shown_events")
            else []
        )
        common: dict[str, Any] = {
            "judge": "openai",
            "model": self.model,
            "rubric_version": RUBRIC_VERSION,
            "prompt_tokens": exchange.prompt_tokens,
            "completion_tokens": exchange.completion_tokens,
            "tokens_estimated": exchange.tokens_estimated,
            "latency_ms": exchange.latency_ms,
            "attempts": exchange.attempts,
            "attempt_errors": exchange.attempt_errors,
            "trimmed": prompt.trimmed,
            "steering": steering,
            "evidence_score": evidence.reasoning_score,
        }
        answer = exchange.answer
        if answer is None:
            flags += [FLAG_PROMPT_INJECTION] if steering else []
            return JudgeRecord(
                **common,
                flags=flags,
                error=exchange.error or "no answer from the judge model",
                judge_comments=f"The judge failed after {exchange.attempts} attempt(s); no score was given.",
            )

        criteria = answer.criteria.model_dump()
        score = round(answer.reasoning_score, 2)
        comments = answer.judge_comments.strip()
        if steering or answer.steering_detected:
            flags.append(FLAG_PROMPT_INJECTION)
            cap = evidence.reasoning_score or 1.0
            capped = {k: min(v, evidence.criteria.get(k, 1)) for k, v in criteria.items()}
            if score > cap or capped != criteria:
                flags.append(FLAG_SCORE_CAPPED)
            who = "an automated scan" if steering else "the model"
            comments += (
                f" [bugtrail: {who} found text in the trace that tries to steer the judge; the score is "
                f"capped at the heuristic evidence score {cap:.2f} (model said {score:.2f}).]"
            )
            score, criteria = min(score, cap), capped
        return JudgeRecord(
            **common,
            criteria={name: int(criteria[name]) for name in CRITERIA},
            reasoning_score=score,
            uncapped_score=round(answer.reasoning_score, 2),
            judge_comments=comments,
            flags=flags,
        )

    def _exchange(self, client: Any, prompt: Prompt) -> _Exchange:
        ex = _Exchange()
        messages: list[dict[str, str]] = list(prompt.messages)
        transport_failures = 0
        for attempt in range(max(0, self.settings.judge_max_retries) + 1):
            ex.attempts = attempt + 1
            started = time.monotonic()
            try:
                response = client.chat.completions.create(
                    model=self.model,
                    messages=messages,
                    temperature=0,
                    response_format=prompt.response_format,
                    max_completion_tokens=self.settings.judge_max_completion_tokens,
                    timeout=self.settings.judge_timeout_s,
                )
            except self._openai.APIStatusError as exc:
                ex.latency_ms += int((time.monotonic() - started) * 1000)
                ex.error = f"HTTP {exc.status_code} from the judge model: {str(exc)[:300]}"
                ex.attempt_errors.append(ex.error)
                if exc.status_code not in RETRYABLE_STATUS and exc.status_code < 500:
                    return ex
                self._backoff(transport_failures, _retry_after(exc.response.headers), attempt)
                transport_failures += 1
                continue
            except self._openai.APIConnectionError as exc:  # includes APITimeoutError
                ex.latency_ms += int((time.monotonic() - started) * 1000)
                timed_out = isinstance(exc, self._openai.APITimeoutError)
                ex.error = (
                    f"judge model timed out after {self.settings.judge_timeout_s:g}s"
                    if timed_out
                    else f"cannot reach the judge model: {exc}"
                )
                ex.attempt_errors.append(ex.error)
                self._backoff(transport_failures, None, attempt)
                transport_failures += 1
                continue
            except (self._openai.OpenAIError, ValueError) as exc:  # a 200 whose body is not a completion
                ex.latency_ms += int((time.monotonic() - started) * 1000)
                ex.error = f"unusable response from the judge model: {str(exc)[:300]}"
                ex.attempt_errors.append(ex.error)
                self._backoff(transport_failures, None, attempt)
                transport_failures += 1
                continue
            ex.latency_ms += int((time.monotonic() - started) * 1000)
            content = self._count_and_extract(ex, response, messages)
            answer, reason = self._validate(response, content)
            if answer is not None:
                ex.answer, ex.error = answer, None
                return ex
            ex.error = f"invalid answer from the judge model: {reason}"
            ex.attempt_errors.append(ex.error)
            messages = list(prompt.messages) + correction(content or "", reason)
        return ex

    def _backoff(self, failures: int, retry_after: float | None, attempt: int) -> None:
        if attempt >= self.settings.judge_max_retries:
            return  # no further attempt: do not wait for nothing
        base = self.settings.judge_retry_base_s
        delay = min(MAX_BACKOFF_S, base * 2**failures) * (0.5 + random.random() / 2)
        self._sleep(retry_after if retry_after is not None else delay)

    def _count_and_extract(self, ex: _Exchange, response: Any, messages: list[dict[str, str]]) -> str | None:
        choice = response.choices[0] if getattr(response, "choices", None) else None
        content = choice.message.content if choice is not None and choice.message is not None else None
        usage = getattr(response, "usage", None)
        if usage is not None and usage.prompt_tokens is not None:
            ex.prompt_tokens += int(usage.prompt_tokens)
            ex.completion_tokens += int(usage.completion_tokens or 0)
        else:
            ex.tokens_estimated = True
            ex.prompt_tokens += sum(estimate_tokens(m["content"]) for m in messages)
            ex.completion_tokens += estimate_tokens(content or "")
        return content

    @staticmethod
    def _validate(response: Any, content: str | None) -> tuple[JudgeAnswer | None, str]:
        choice = response.choices[0] if getattr(response, "choices", None) else None
        if choice is None:
            return None, "no choices in the response"
        refusal = getattr(choice.message, "refusal", None)
        if refusal:
            return None, f"the model refused: {refusal[:200]}"
        if choice.finish_reason == "length":
            return None, "the answer was cut off (finish_reason=length)"
        if not content:
            return None, "empty answer"
        try:
            data = json.loads(content)
        except ValueError as exc:
            return None, f"not JSON ({exc})"
        try:
            return JudgeAnswer.model_validate(data), ""
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'answer'}: {err['msg']}"
                for err in exc.errors()[:5]
            )
            return None, f"does not match the schema ({problems})"
