"""Feedback reaches the developer's terminal: `bugtrail status` shows the review decision and `bugtrail
reviews` lists the reviews of their traces, through the recorder CLI (no server dependency imported)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from bugtrail.cli.entry import SERVER_MODULES
from bugtrail.db.models import Trace
from tests.support.recorder import BUGGY, TEST, bugtrail, cli_env, session_trace_id
from tests.support.repos import make_repo
from tests.support.reviews import review_body
from tests.support.server import live_app_server


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The recorder's side of the feature, not the dialects: SQLite only."""
    return f"sqlite:///{tmp_path / 'data' / 'bugtrail.db'}"


def test_status_and_reviews_show_the_feedback(app, keys, database, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"calc.py": BUGGY, "tests/test_calc.py": TEST})
    with live_app_server(app) as url:
        env = {**cli_env(url, keys.raw["alice"], tmp_path), "COLUMNS": "250"}  # no wrapped table cells
        assert bugtrail(repo, env, "start", "--bug", "add subtracts", "--no-environment").returncode == 0
        assert bugtrail(repo, env, "note", "the operator is wrong").returncode == 0
        assert bugtrail(repo, env, "finish").returncode == 0
        trace_id = session_trace_id(repo)
        before = bugtrail(repo, env, "status").stdout.decode()
        assert "not reviewed yet" in before
        nothing = bugtrail(repo, env, "reviews")
        assert nothing.returncode == 0 and "No reviews of your traces yet" in nothing.stdout.decode()

        with database.scope() as session:  # QA finished (no worker runs in this test)
            session.execute(update(Trace).where(Trace.trace_id == trace_id).values(status="completed"))
        body = review_body(2, "needs_changes", feedback="Run the failing test before the fix, then after.")
        posted = httpx.post(f"{url}/api/traces/{trace_id}/reviews", json=body, headers=keys.reviewer)
        assert posted.status_code == 201, posted.text

        status = bugtrail(repo, env, "status").stdout.decode()
        assert "needs changes, human score 2.0/5" in status and f"bugtrail reviews {trace_id}" in status
        listed = bugtrail(repo, env, "reviews")
        out = " ".join(listed.stdout.decode().split())
        assert listed.returncode == 0 and trace_id in out and "needs_changes" in out
        assert "reviewer 1" in out and "Run the failing test before the fix" in out
        one = bugtrail(repo, env, "reviews", trace_id).stdout.decode()
        assert "decision: needs_changes" in one
        # A key the server refuses: a clear message, not a traceback.
        refused = bugtrail(repo, {**env, "BUGTRAIL_API_KEY": "btk_wrong"}, "reviews")
        assert (
            refused.returncode == 1 and "bugtrail login" in refused.stderr.decode() + refused.stdout.decode()
        )


def test_reviews_verb_imports_no_server_dependency() -> None:
    code = (
        "import sys; import bugtrail.cli.recorder_cmd, bugtrail.cli.reviews_view; "
        f"print(sorted(m for m in {sorted(SERVER_MODULES)!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
