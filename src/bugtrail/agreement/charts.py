"""The agreement report as the dashboard's chart series (pure; drawn by static/agreement.js)."""

from __future__ import annotations

from typing import Any

from bugtrail.agreement.calibration import DIMENSIONS
from bugtrail.agreement.schemas import AgreementReport, JudgeGroup


def group_label(group: JudgeGroup | Any) -> str:
    return f"{group.judge}/{group.model or '-'} ({group.rubric_version.split(' ')[0]})"


def chart_data(report: AgreementReport) -> dict[str, Any]:
    between = report.between_reviewers
    judges = [
        {
            "label": group_label(group),
            "spearman": [group.figures[name].spearman.value for name in DIMENSIONS],
            "kappa": [group.figures[name].kappa.value for name in DIMENSIONS],
            "mae": [group.figures[name].mae.value for name in DIMENSIONS],
            "mae_calibrated": (
                [group.calibrated[name].mae.value for name in DIMENSIONS] if group.calibrated else None
            ),
        }
        for group in report.judge_vs_human
    ]
    weekly_judges = sorted({group_label(j) for point in report.weekly for j in point.judges})
    return {
        "criteria": list(DIMENSIONS),
        "alpha": [between.alpha[name].value for name in DIMENSIONS],
        "pairs": {
            "labels": [f"{p.reviewer_a} / {p.reviewer_b}" for p in between.pairs],
            "kappa": [p.kappa["overall"].value for p in between.pairs],
        },
        "judges": judges,
        "weekly": {
            "labels": [point.week_start.isoformat() for point in report.weekly],
            "alpha": [point.alpha_overall for point in report.weekly],
            "reviews": [point.reviews for point in report.weekly],
            "judges": [
                {
                    "label": label,
                    "mae": [
                        next((j.mae for j in point.judges if group_label(j) == label), None)
                        for point in report.weekly
                    ],
                }
                for label in weekly_judges
            ],
        },
    }
