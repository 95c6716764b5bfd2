"""`bugtrail judge TRACE_ID`: re-judge one stored trace's reasoning without re-running its tests.

`bugtrail judge` is a group (calibrate, calibrations, recalibrate: cli/agreement_cmd.py) whose first
argument, when it names no sub-command, is a trace id: `bugtrail judge TRACE_ID` stays what it was and is
the same as `bugtrail judge rejudge TRACE_ID`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer
from typer.core import TyperGroup

from bugtrail.cli.common import bugtrail_errors, err_console, fail, load_settings, open_database, subcommands

if TYPE_CHECKING:  # recent Typer ships its own click; the name is only needed for the annotation
    from typer._click.core import Context as ClickContext


class _TraceIdByDefault(TyperGroup):
    """Route `judge TRACE_ID [options]` (and `judge --json TRACE_ID`) to the `rejudge` sub-command."""

    def parse_args(self, ctx: ClickContext, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["rejudge", *args]
        return super().parse_args(ctx, args)


judge_app, register = subcommands(
    "judge",
    "Re-judge a trace (bugtrail judge TRACE_ID) and calibrate the judge against human reviews.",
    cls=_TraceIdByDefault,
)


@judge_app.command("rejudge")
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
    if record.calibrated is not None and record.calibrated.reasoning_score is not None:
        err_console.print(
            f"  calibrated to the reviewers' scale: {record.calibrated.reasoning_score:.2f} "
            f"(calibration {record.calibrated.calibration_id}, version {record.calibrated.version})"
        )
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
