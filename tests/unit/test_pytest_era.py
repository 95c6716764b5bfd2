"""The pytest a base commit was written against: the bound by date and Python, and how a plan gets it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bugtrail.config import Settings
from bugtrail.qa.environments.plan import make_plan
from bugtrail.qa.environments.pytest_era import bounded_pytest, era_bound, era_major
from bugtrail.wire import RecordedEnvironment
from tests.support.env_repos import plan_trace


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("day", "major"),
    [
        ("2016-01-01", 3),
        ("2019-03-01", 4),
        ("2020-01-01", 5),
        ("2021-06-01", 6),
        ("2023-06-01", 7),
        ("2024-01-26", 7),
        ("2024-01-27", 8),
        ("2025-06-01", 8),
        ("2026-06-01", 9),
    ],
)
def test_era_major_by_date(day: str, major: int):
    assert era_major(at(day).date()) == major


def test_bound_follows_the_era_and_never_goes_below_what_the_python_runs():
    assert era_bound(at("2023-06-01"), "3.11")[0] == 8
    assert era_bound(at("2024-06-01"), "3.11")[0] == 9
    assert era_bound(at("2026-06-01"), "3.11") == (None, None)  # today's major: no bound
    assert era_bound(None, "3.11") == (None, None)
    below, why = era_bound(at("2019-03-01"), "3.11")
    assert below == 7 and why and "pytest 4 does not run on Python 3.11" in why
    assert era_bound(at("2019-03-01"), "3.12")[0] == 8
    assert era_bound(at("2019-03-01"), "3.13")[0] == 9
    assert era_bound(at("2019-03-01"), "3.99") == (None, None)  # a Python newer than the table: today's
    # A commit date with an offset counts in UTC.
    assert era_bound(datetime.fromisoformat("2024-01-27T01:00:00+05:00"), "3.11")[0] == 8


@pytest.mark.parametrize(
    ("packages", "expected", "changed"),
    [
        (["attrs"], ["pytest<8", "attrs"], True),
        (["pytest", "attrs"], ["pytest<8", "attrs"], True),
        (["pytest>=6.2"], ["pytest<8,>=6.2"], True),
        (["pytest[testing]>=7"], ["pytest[testing]<8,>=7"], True),
        (["pytest==8.3.2"], ["pytest==8.3.2"], False),  # a pin is the repository's or developer's choice
        (["pytest<7"], ["pytest<7"], False),
        (["pytest~=6.2"], ["pytest~=6.2"], False),
        (["pytest>=8.1"], ["pytest>=8.1"], False),  # a lower bound past the era: left to the repository
        (["pytest @ https://example.com/p.tar.gz"], ["pytest@ https://example.com/p.tar.gz"], False),
    ],
)
def test_bounded_pytest(packages: list[str], expected: list[str], changed: bool):
    lines, did = bounded_pytest(packages, 8)
    assert did is changed
    assert [line.replace(" ", "") for line in lines] == [line.replace(" ", "") for line in expected]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", runner_image="bugtrail-runner:latest")


def test_plans_get_the_bound_and_say_why(settings: Settings, tmp_path: Path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "requirements-test.txt").write_text("pytest\nattrs\n")
    old = at("2023-06-01")
    detected = make_plan(settings, plan_trace(), None, tree, commit_date=old).plan
    assert detected.source == "detected"
    assert "pytest<8" in detected.packages and "pytest" not in detected.packages
    assert any("predates pytest 8.0 (2024-01-27)" in note for note in detected.notes)

    current = make_plan(settings, plan_trace(), None, tree, commit_date=at("2026-06-01")).plan
    assert "pytest" in current.packages and not any("predates" in note for note in current.notes)

    empty = tmp_path / "empty"
    empty.mkdir()
    default_today = make_plan(settings, plan_trace(), None, empty, commit_date=at("2026-06-01"))
    assert default_today.plan.source == "default" and not default_today.needs_build
    default_old = make_plan(settings, plan_trace(), None, empty, commit_date=old)
    assert default_old.plan.packages == ["pytest<8"] and default_old.needs_build  # an image with that pytest

    pinned = RecordedEnvironment(python_version="3.11.7", packages=["pytest==8.3.2", "attrs==23.1.0"])
    recorded = make_plan(settings, plan_trace(pinned), None, tree, commit_date=old).plan
    assert "pytest==8.3.2" in recorded.packages  # the developer's own pytest stays
