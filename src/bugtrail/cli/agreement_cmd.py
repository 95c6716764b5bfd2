"""`bugtrail review agreement` and `bugtrail judge calibrate|calibrations|recalibrate` (on the server host).

Agreement figures and calibrations are described in docs/review.md ("Agreement", "Judge calibration").
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bugtrail.cli.common import (
    bugtrail_errors,
    err_console,
    load_settings,
    open_database,
    options_as,
    subcommands,
)
from bugtrail.cli.judge_cmd import judge_app

if TYPE_CHECKING:
    from bugtrail.agreement.schemas import AgreementReport, CalibrationRead

review_app, register = subcommands(
    "review",
    "Human review: agreement between reviewers and with the judge.",
)


def _figure(figure: Any) -> str:
    if figure.value is None:
        return "-"
    text = f"{figure.value:.2f}"
    if figure.ci_low is not None and figure.ci_high is not None:
        text += f" [{figure.ci_low:.2f}, {figure.ci_high:.2f}]"
    return text


def _print_report(report: AgreementReport) -> None:
    out = Console()
    between = report.between_reviewers
    table = Table(
        title=(
            f"Between reviewers: {between.reviews} current reviews by {between.reviewers} reviewers, "
            f"{between.multi_reviewed_traces} of {between.traces} traces reviewed twice or more"
        )
    )
    table.add_column("criterion")
    table.add_column("alpha (ordinal) [95% CI]")
    table.add_column("units", justify="right")
    for name, figure in between.alpha.items():
        table.add_row(name, _figure(figure), str(figure.n))
    out.print(table)
    if between.pairs:
        pairs = Table(title="Reviewer pairs: quadratic-weighted kappa")
        for column in ("reviewers", "shared traces", "overall [CI]", "criteria"):
            pairs.add_column(column)
        for pair in between.pairs:
            criteria = ", ".join(
                f"{k}={_figure(v)}" for k, v in pair.kappa.items() if k != "overall" and v.value is not None
            )
            pairs.add_row(
                escape(f"{pair.reviewer_a} / {pair.reviewer_b}"),
                str(pair.shared_traces),
                _figure(pair.kappa["overall"]),
                criteria,
            )
        out.print(pairs)
    for group in report.judge_vs_human:
        title = f"Judge vs people: {group.judge} / {group.model or 'no model'} / {group.rubric_version}"
        judge_table = Table(title=escape(f"{title} ({group.traces} reviewed traces)"))
        for column in ("criterion", "n", "Spearman [CI]", "kappa [CI]", "MAE [CI]"):
            judge_table.add_column(column)
        for name, figures in group.figures.items():
            judge_table.add_row(
                name,
                str(figures.mae.n),
                _figure(figures.spearman),
                _figure(figures.kappa),
                _figure(figures.mae),
            )
        if group.calibrated:
            calibrated = group.calibrated["overall"]
            judge_table.add_row(
                "overall (calibrated)",
                str(calibrated.mae.n),
                _figure(calibrated.spearman),
                _figure(calibrated.kappa),
                _figure(calibrated.mae),
            )
        out.print(judge_table)
    if not report.judge_vs_human:
        err_console.print("no judge scores on reviewed traces match the filters")
    err_console.print(f"[dim]{report.method['ci']}[/]", highlight=False)


@review_app.command("agreement")
def agreement(
    ctx: typer.Context,
    since: datetime = typer.Option(
        None, "--since", help="reviews submitted at or after (ISO 8601; naive = UTC)"
    ),
    until: datetime = typer.Option(None, "--until", help="reviews submitted at or before"),
    judge: str = typer.Option(None, "--judge", help="only this judge (openai | heuristic)"),
    model: str = typer.Option(None, "--model", help="only this judge model"),
    rubric_version: str = typer.Option(None, "--rubric-version", help="only judge records of this rubric"),
    repo: str = typer.Option(None, "--repo", help="only traces of this repo_url"),
    min_pair_traces: int = typer.Option(5, "--min-pair-traces", help="shared traces a reviewer pair needs"),
    resamples: int = typer.Option(1000, "--resamples", help="bootstrap resamples (0: no intervals)"),
    seed: int = typer.Option(0, "--seed", help="bootstrap seed"),
    as_json: bool = typer.Option(False, "--json", help="print the report as JSON"),
) -> None:
    """Agreement between reviewers and between the judge and people, with 95% confidence intervals."""
    from bugtrail.agreement.schemas import AgreementQuery
    from bugtrail.agreement.service import agreement_report

    query = options_as(AgreementQuery, ctx.params)  # the options are named as the query's fields
    settings = load_settings()
    with bugtrail_errors(), open_database(settings) as database, database.scope(read_only=True) as session:
        report = agreement_report(session, query)
    if as_json:
        print(report.model_dump_json(indent=2))
    else:
        _print_report(report)


def _print_calibration(calibration: CalibrationRead) -> None:
    metrics = calibration.metrics
    state = "active" if calibration.active else "inactive"
    err_console.print(
        escape(
            f"calibration {calibration.id}: {calibration.judge} v{calibration.version} ({state}), model "
            f"{calibration.model or 'none'}, rubric {calibration.rubric_version!r}, "
            f"{calibration.sample_count} reviewed traces ({metrics.get('fit_count')} fitted, "
            f"{metrics.get('holdout_count')} held back)"
        ),
        highlight=False,
    )
    for name, figures in (metrics.get("dimensions") or {}).items():
        before, after = figures.get("mae_before"), figures.get("mae_after")
        if before is not None and after is not None:
            err_console.print(f"  {name}: held-back MAE {before:.3f} -> {after:.3f}", highlight=False)


@judge_app.command("calibrate")
def calibrate(
    ctx: typer.Context,
    judge: str = typer.Option(None, "--judge", help="openai | heuristic (default: the configured judge)"),
    model: str = typer.Option(None, "--model", help="default: BUGTRAIL_JUDGE_MODEL for openai, none else"),
    rubric_version: str = typer.Option(None, "--rubric-version", help="default: the current rubric"),
    holdout: float = typer.Option(0.25, "--holdout", help="share of reviewed traces held back (0.05-0.5)"),
    seed: int = typer.Option(0, "--seed", help="seed of the held-back split"),
    min_samples: int = typer.Option(10, "--min-samples", help="reviewed traces needed"),
    apply: bool = typer.Option(False, "--apply", help="then re-apply it to stored judge records"),
    as_json: bool = typer.Option(False, "--json", help="print the stored calibration as JSON"),
) -> None:
    """Fit a monotone map from the judge's scores to the reviewers' and make it the judge's active one."""
    from bugtrail.agreement.calibrations import fit_and_store
    from bugtrail.agreement.flows import recalibrate_stored
    from bugtrail.agreement.schemas import CalibrationRequest
    from bugtrail.qa.judge import RUBRIC_VERSION, judge_choice

    settings = load_settings()
    judge = judge or judge_choice(settings)
    if model is None and judge == "openai":
        model = settings.judge_model
    chosen = {"judge": judge, "model": model, "rubric_version": rubric_version or RUBRIC_VERSION}
    request = options_as(CalibrationRequest, {**ctx.params, **chosen})
    with bugtrail_errors(), open_database(settings) as database:
        with database.scope() as session:
            calibration = fit_and_store(session, request, "cli")
        counts = recalibrate_stored(database, judge) if apply else None
    if as_json:
        print(calibration.model_dump_json(indent=2))
    _print_calibration(calibration)
    if counts is not None:
        err_console.print(f"re-applied: {counts.calibrated} of {counts.examined} stored {judge} records")


@judge_app.command("calibrations")
def calibrations(
    judge: str = typer.Option(None, "--judge", help="only this judge"),
    as_json: bool = typer.Option(False, "--json", help="print them as JSON"),
) -> None:
    """List stored calibrations, newest first."""
    from bugtrail.agreement.calibrations import list_calibrations

    settings = load_settings()
    with bugtrail_errors(), open_database(settings) as database, database.scope(read_only=True) as session:
        found = list_calibrations(session, judge)
    if as_json:
        print("[" + ",".join(c.model_dump_json() for c in found) + "]")
        return
    for calibration in found:
        _print_calibration(calibration)
    if not found:
        err_console.print("no calibrations yet: run `bugtrail judge calibrate` once traces are reviewed")


@judge_app.command("recalibrate")
def recalibrate(judge: str = typer.Option(None, "--judge", help="only this judge's records")) -> None:
    """Re-apply the active calibrations to every stored QA result's judge record (`calibrated`)."""
    from bugtrail.agreement.flows import recalibrate_stored

    settings = load_settings()
    with bugtrail_errors(), open_database(settings) as database:
        counts = recalibrate_stored(database, judge)
    err_console.print(
        f"{counts.examined} judge records examined: {counts.calibrated} calibrated, "
        f"{counts.cleared} stale calibrations removed"
    )
