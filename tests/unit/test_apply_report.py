"""The edit applier's report comes out of a container: the host checks its size, shape and types."""

from __future__ import annotations

import json

import pytest

from bugtrail.qa.apply_container import _refused_on_host, parse_report
from bugtrail.qa.errors import QaInputError
from bugtrail.qa.patching import EditSpec

EDITS = [EditSpec(3, "e3", {"file": "calc.py"}), EditSpec(5, "e5", {"file": "tests/test_x.py"})]
GOOD = [
    {"applied": True, "method": "git-apply", "error": None, "attempts": [], "refused": False},
    {"applied": False, "method": None, "error": "no", "attempts": ["git-apply: x"], "refused": False},
]


def test_a_good_report_is_taken_but_identities_come_from_our_edits():
    forged = [dict(GOOD[0], index=99, event_id="x", file=".git/config", is_test=True), GOOD[1]]
    reports = parse_report(json.dumps(forged).encode(), EDITS, ["tests/*"])
    assert [(r.index, r.event_id, r.file, r.is_test) for r in reports] == [
        (3, "e3", "calc.py", False),
        (5, "e5", "tests/test_x.py", True),
    ]
    assert reports[0].applied and reports[0].method == "git-apply"
    assert not reports[1].applied and reports[1].error == "no"


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"{}",
        json.dumps(GOOD[:1]).encode(),  # one report for two edits
        json.dumps([GOOD[0], "x"]).encode(),
        json.dumps([dict(GOOD[0], applied="yes"), GOOD[1]]).encode(),
        json.dumps([dict(GOOD[0], method="rm -rf"), GOOD[1]]).encode(),
        json.dumps([dict(GOOD[0], method=None), GOOD[1]]).encode(),
        json.dumps([dict(GOOD[0], attempts=[1]), GOOD[1]]).encode(),
        json.dumps([dict(GOOD[0], error=["x"]), GOOD[1]]).encode(),
        json.dumps([dict(GOOD[0], refused=True), GOOD[1]]).encode(),
    ],
)
def test_malformed_reports_are_refused(raw: bytes):
    with pytest.raises(QaInputError, match="edit applier"):
        parse_report(raw, EDITS, [])


def test_long_strings_are_cut():
    long = [dict(GOOD[1], error="x" * 100_000, attempts=["y" * 100_000] * 50), GOOD[1]]
    report = parse_report(json.dumps(long).encode(), EDITS, [])[0]
    assert len(report.error or "") <= 2000 and len(report.attempts) <= 5
    assert all(len(attempt) <= 2000 for attempt in report.attempts)


@pytest.mark.parametrize(
    "details",
    [
        {"file": ".git/config"},
        {"file": "a/../../etc/passwd"},
        {"file": "/etc/passwd"},
        {"file": "ok.py", "renamed_from": ".GIT/hooks/pre-commit"},
    ],
)
def test_names_the_host_can_see_are_refused_before_any_container(details: dict):
    report = _refused_on_host(EditSpec(0, "e0", details), [])
    assert report is not None and report.refused and not report.applied and report.error


def test_plain_names_go_to_the_container():
    assert _refused_on_host(EditSpec(0, "e0", {"file": "src/a.py", "renamed_from": "src/b.py"}), []) is None
