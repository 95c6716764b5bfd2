"""How the judge copes with a day-long trace: time and memory to prepare the prompt, and its size.

    PYTHONPATH=src:. python benchmarks/judge_budget.py [--events 5000] [--budgets 6000,24000,100000]

Prints, for a synthetic day (thousands of events, megabytes of command output and diffs): the time to
scan for steering text, to compute the heuristic features, and to render the prompt at each budget;
the estimated prompt tokens against the budget; and what was trimmed. The OpenAI judge is then run
once against the local stub server (tests/support/openai_stub.py) to time the whole call path.
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc
from pathlib import Path

from bugtrail.config import get_settings
from bugtrail.qa.judge import get_judge
from bugtrail.qa.judge.heuristic import judge_view
from bugtrail.qa.judge.prompt import build_prompt
from bugtrail.qa.judge.steering import find_steering
from bugtrail.qa.judge.trace_view import view_of
from tests.support.judge_traces import day_long_trace
from tests.support.openai_stub import OpenAIStub


def timed(label: str, fn, *args):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = fn(*args)
    print(f"{label:<38} {1000 * (time.perf_counter() - started):9.0f} ms")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--budgets", default="6000,24000,100000")
    args = parser.parse_args()

    trace = day_long_trace(args.events)
    size = sum(len(json.dumps(e.details)) for e in trace.events)
    print(f"trace: {len(trace.events)} events, {size / 1e6:.1f} MB of event details")
    view = timed("view of events", view_of, trace)
    steering = timed("steering scan", find_steering, view)
    timed("heuristic judge (features + scores)", judge_view, view, steering)
    for budget in (int(b) for b in args.budgets.split(",")):
        tracemalloc.start()
        prompt = timed(f"prompt at budget {budget}", build_prompt, view, budget, steering)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        t = prompt.trimmed
        chars = sum(len(m["content"]) for m in prompt.messages)
        print(
            f"  estimated {prompt.estimated_tokens} tokens (<= {budget}); request text "
            f"{chars} chars; peak extra memory {peak / 1e6:.1f} MB\n"
            f"  omitted {t['events_omitted']} events, shortened {t['events_shortened']}, reasoning shortened "
            f"{t['reasoning_shortened']}/omitted {t['reasoning_omitted']}, chars cut from shown events "
            f"{t['chars_cut_from_shown_events']}"
        )
    with OpenAIStub() as stub:
        settings = get_settings(
            judge="openai", openai_api_key="sk-bench", openai_base_url=stub.base_url, data_dir=Path("/tmp")
        )
        record = timed("openai judge end to end (local stub)", get_judge(settings).judge, trace)
        print(f"  request body {stub.requests[0].raw_size} bytes; score {record.reasoning_score}")


if __name__ == "__main__":
    main()
