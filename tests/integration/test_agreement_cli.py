"""`bugtrail review agreement` and `bugtrail judge calibrate|calibrations|recalibrate` as processes, on a
seeded SQLite database (the API tests cover PostgreSQL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from bugtrail.config import Settings
from bugtrail.db.engine import Database
from bugtrail.db.models import QaResult
from tests.support.agreement_set import seed_agreement_set


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'data' / 'bugtrail.db'}"


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BUGTRAIL_", "OPENAI_"))}
    env.update(
        BUGTRAIL_DATA_DIR=str(settings.data_dir),
        BUGTRAIL_DATABASE_URL=settings.resolved_database_url,
        BUGTRAIL_JUDGE="heuristic",
        PYTHONPATH=os.pathsep.join(
            [str(Path(__file__).resolve().parents[2] / "src"), env.get("PYTHONPATH", "")]
        ),
    )
    return subprocess.run(
        [sys.executable, "-m", "bugtrail", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_agreement_and_calibration_commands(settings: Settings, database: Database) -> None:
    with database.scope() as session:
        seed_agreement_set(session, traces=30)

    table = cli(settings, "review", "agreement", "--resamples", "200")
    assert table.returncode == 0, table.stderr
    assert "Between reviewers" in table.stdout and "Judge vs people: heuristic" in table.stdout
    bad = cli(settings, "review", "agreement", "--since", "2026-12-01", "--until", "2026-11-01")
    assert bad.returncode == 2 and "since must not be after until" in bad.stderr

    fitted = cli(settings, "judge", "calibrate", "--apply", "--json", "--min-samples", "20")
    assert fitted.returncode == 0, fitted.stderr
    calibration = json.loads(fitted.stdout)
    assert calibration["judge"] == "heuristic" and calibration["version"] == 1 and calibration["active"]
    assert calibration["metrics"]["mae_after"] < calibration["metrics"]["mae_before"]
    assert "held-back MAE" in fitted.stderr and "re-applied: 30 of 30" in fitted.stderr
    with database.scope(read_only=True) as session:
        documents = session.scalars(select(QaResult.result)).all()
    assert all(doc["judge"]["calibrated"]["calibration_id"] == calibration["id"] for doc in documents)

    report = json.loads(cli(settings, "review", "agreement", "--json", "--resamples", "0").stdout)
    assert report["between_reviewers"]["reviews"] == 36
    [group] = report["judge_vs_human"]
    assert group["figures"]["overall"]["mae"]["ci_low"] is None  # --resamples 0: no intervals
    assert group["calibrated_traces"] == 30
    assert group["calibrated"]["overall"]["mae"]["value"] < group["figures"]["overall"]["mae"]["value"]
    too_few = cli(settings, "judge", "calibrate", "--min-samples", "31")
    assert too_few.returncode == 1 and "calibration needs at least 31" in too_few.stderr
