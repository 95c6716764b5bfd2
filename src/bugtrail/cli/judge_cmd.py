"""`bugtrail judge TRACE_ID`: re-judge one stored trace's reasoning without re-running its tests."""

from __future__ import annotations

import json

import typer

from bugtrail.cli.common import bugtrail_errors, err_console, fail, load_settings, open_database


def register(app: typer.Typer) -> None:
    app.command("judge")(judge)


def judge(
    trace_id: str = typer.Argument(..., help="the trace to judge"),
    judge_name: str = typer.Option(
        None, "--judge", help="openai | heuristic | auto (default: BUGTRAIL_JUDGE)"
    ),
    model: str = typer.Option(
        None, "--model", help="model for the openai judge (default: BUGTRAIL_JUDGE_MODEL)"
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="judge and print, but store nothing"),
    as_json: bool = typer.Option(False, "--json", help="print the full judge record as JSON on stdout"),
) -> None:
    """Judge a finalized trace again and store the record on its newest QA result.

    The score and comments replace the newest qa_result's (a result with outcome `judged_only` is created
    when QA never ran) and the trace's reasoning_score; the replaced record is kept in `previous_judges`.
    A judge failure is printed and stored nowhere (exit code 1).
    """
    from pydantic import TypeAdapter, ValidationError

    from bugtrail.config import JudgeChoice
    from bugtrail.qa.judge.flows import rejudge_trace

    settings = load_settings()
    if judge_name:
        try:  # model_copy does not validate: check the choice as the settings would
            judge_name = TypeAdapter(JudgeChoice).validate_python(judge_name)
        except ValidationError as exc:
            raise fail(f"--judge must be openai, heuristic or auto, not {judge_name!r}", code=2) from exc
    overrides = {k: v for k, v in {"judge": judge_name, "judge_model": model}.items() if v}
    if overrides:
        settings = settings.model_copy(update=overrides)
    with bugtrail_errors(), open_database(settings) as database:
        result = rejudge_trace(settings, database, trace_id, store=not dry_run)
    record = result.record
    if as_json:
        print(json.dumps(record.model_dump(mode="json"), indent=2))
    if record.error is not None:
        raise fail(f"the {record.judge} judge failed: {record.error}", "nothing was stored; try again later")
    score = f"{record.reasoning_score:.2f}" if record.reasoning_score is not None else "-"
    criteria = ", ".join(f"{k}={v}" for k, v in record.criteria.items())
    err_console.print(
        f"[bold]{trace_id}[/]: reasoning_score {score} ({record.judge}, {record.model or 'no model'})"
    )
    err_console.print(f"  {criteria}")
    if record.flags:
        err_console.print(f"  flags: {', '.join(record.flags)}")
    if record.attempts:
        err_console.print(
            f"  tokens: {record.prompt_tokens} prompt + {record.completion_tokens} completion, "
            f"{record.latency_ms} ms, {record.attempts} attempt(s)"
        )
    err_console.print(f"  {record.judge_comments}", highlight=False)
    if result.stored:
        where = "new judged_only QA result" if result.created_qa_result else "newest QA result"
        err_console.print(f"stored on the {where} (id {result.qa_result_id})")
    else:
        err_console.print("dry run: nothing stored")
