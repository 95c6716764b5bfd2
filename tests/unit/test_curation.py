"""Curation metadata (traces.curation): exact numbers on a realistic session, and hostile inputs."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bugtrail.traces.curation import CurationEvent, compute_curation, language_of
from bugtrail.traces.diffstat import diff_stat
from bugtrail.traces.test_runs import is_test_run
from tests.support.curation_trace import EVENTS, EXPECTED, START, TEST_COMMAND, timestamp


def _event(seq: int, kind: str, ts: datetime, **details: Any) -> CurationEvent:
    fields = ("file", "diff", "command", "exit_code", "duration_ms", "reasoning_type")
    return CurationEvent(seq=seq, event_type=kind, ts_utc=ts, **{k: details.get(k) for k in fields})


def _session_events() -> list[CurationEvent]:
    return [
        _event(seq, kind, timestamp(offset), **details) for seq, (offset, kind, details) in enumerate(EVENTS)
    ]


def test_realistic_session_has_exact_numbers_whatever_the_page_size() -> None:
    events = _session_events()
    one_page = compute_curation([events], TEST_COMMAND, 300.0)
    assert one_page.model_dump(exclude={"started_at", "ended_at"}) == EXPECTED
    assert one_page.started_at == START.astimezone(UTC) and one_page.started_at.tzinfo == UTC
    assert one_page.ended_at == timestamp(2320).astimezone(UTC)
    paged = compute_curation([events[i : i + 3] for i in range(0, len(events), 3)], TEST_COMMAND, 300.0)
    assert paged == one_page


def test_the_idle_threshold_decides_what_counts_as_active() -> None:
    events = _session_events()
    # With a 25-minute threshold the 20 idle minutes count: all of the time on task is active.
    assert compute_curation([events], TEST_COMMAND, 1500.0).active_time_s == 2320.0
    # With 20 seconds, the 30-second gaps go too; the command durations still count.
    tight = compute_curation([events], TEST_COMMAND, 20.0)
    assert tight.active_time_s == pytest.approx(2 + 10 + 0.1 + 900 + 10 + 10 + 10)
    assert tight.active_gap_s == 20.0


def test_an_empty_trace_has_zero_curation() -> None:
    empty = compute_curation([], None, 300.0)
    assert empty.events == 0 and empty.time_on_task_s == 0.0 and empty.started_at is None
    assert empty.notes == dict.fromkeys(empty.notes, 0) and len(empty.notes) == 6
    assert empty.languages == [] and empty.files == []


def test_timestamps_out_of_order_and_absurd_are_bounded() -> None:
    """A clock that went back (seq order differs from time order), years-long gaps, naive datetimes."""
    base = datetime(2026, 1, 1, tzinfo=UTC)
    events = [  # given in the server's order: by timestamp, then seq
        _event(2, "reasoning", base - timedelta(days=365 * 50), reasoning_type="plan"),  # clock at 1976
        _event(0, "command", base, command="pytest", exit_code=0, duration_ms=10_000),
        _event(3, "reasoning", base + timedelta(seconds=5), reasoning_type="hypothesis"),
        _event(1, "reasoning", (base + timedelta(seconds=65)).replace(tzinfo=None), reasoning_type="bogus"),
        _event(4, "reasoning", datetime(9999, 12, 31, tzinfo=UTC), reasoning_type=None),
    ]
    curation = compute_curation([events], None, 300.0)
    assert curation.out_of_order_events == 2  # seq 0 after seq 2, seq 1 after seq 3
    assert curation.active_time_s == 65.0  # the 50-year and the 8000-year gaps are idle
    assert curation.time_on_task_s == (datetime(9999, 12, 31, tzinfo=UTC) - events[0].ts_utc).total_seconds()
    assert (
        curation.notes["plan"] == 1
        and curation.notes["hypothesis"] == 1
        and sum(curation.notes.values()) == 2
    )
    assert curation.test_runs == 1 and curation.failed_commands == 0


def test_junk_values_in_command_fields_are_ignored_not_fatal() -> None:
    ts = datetime(2026, 1, 1, tzinfo=UTC)
    events = [
        _event(0, "command", ts, command="pytest", exit_code="not a number", duration_ms=-5),
        _event(1, "command", ts + timedelta(seconds=1), command=None, exit_code="3", duration_ms="1e400"),
        _event(2, "edit", ts + timedelta(seconds=2), file=None, diff=None),
        _event(3, "weird", ts + timedelta(seconds=3)),
    ]
    curation = compute_curation([events], None, 300.0)
    assert (curation.commands, curation.failed_commands, curation.test_runs, curation.edits) == (2, 1, 1, 1)
    assert curation.events == 4 and curation.files_touched == 0 and curation.active_time_s == 3.0


def test_diff_stat_counts_lines_inside_hunks_even_when_they_look_like_headers() -> None:
    diff = (
        "--- a/notes.md\n+++ b/notes.md\n@@ -1,3 +1,3 @@\n"
        "--- removed line that looks like a header\n"
        "+++ added line that looks like a header\n"
        " context\n"
        "-x\n+y\n"
        "\\ No newline at end of file\n"
    )
    stat = diff_stat(diff)
    assert (stat.added, stat.removed, stat.paths, stat.binary) == (2, 2, {"notes.md"}, False)


def test_diff_stat_of_several_files_deletions_binaries_and_loose_diffs() -> None:
    multi = (
        "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1 +1,2 @@\n-a\n+b\n+c\n"
        "diff --git a/gone.go b/gone.go\n--- a/gone.go\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-x\n-y\n"
        "diff --git a/logo.png b/logo.png\nGIT binary patch\nliteral 12\nTcmZ?wbhEHbRA6L3Ugiw=\n"
    )
    stat = diff_stat(multi)
    assert (stat.added, stat.removed, stat.binary) == (2, 3, True)
    assert stat.paths == {"a.py", "gone.go", "logo.png"}
    assert diff_stat("Binary files a/x.bin and b/x.bin differ\n").binary
    loose = diff_stat("+added without any hunk header\n-removed\n+++ b/f.py\n")  # hand-written
    assert (loose.added, loose.removed, loose.paths) == (1, 1, {"f.py"})


def test_hostile_diffs_are_linear_and_bounded() -> None:
    huge = "--- a/big.py\n+++ b/big.py\n@@ -1,0 +1,400000 @@\n" + "+x = 1\n" * 400_000
    started = time.perf_counter()
    stat = diff_stat(huge)
    assert stat.added == 400_000 and stat.removed == 0
    assert time.perf_counter() - started < 2.0
    lying = "--- a/f.py\n+++ b/f.py\n@@ -1,999999999999 +1,999999999999 @@\n-a\n+b\n"  # counts lie
    assert (diff_stat(lying).added, diff_stat(lying).removed) == (1, 1)
    binaryish = "--- a/blob\n+++ b/blob\n@@ -1 +1 @@\n-\x00\x01\xff\ufffd\n+\x7f\x00\n"
    assert (diff_stat(binaryish).added, diff_stat(binaryish).removed) == (1, 1)
    long_path = "+++ b/" + "d/" * 5000 + "x.py\n"
    assert diff_stat(long_path).paths == set()  # a path longer than any file system takes is no file
    crlf = "--- a/w.py\r\n+++ b/w.py\r\n@@ -1 +1 @@\r\n-a\r\n+b\r\n"
    assert (diff_stat(crlf).added, diff_stat(crlf).paths) == (1, {"w.py"})


def test_files_are_listed_up_to_a_cap_and_counted_exactly() -> None:
    ts = datetime(2026, 1, 1, tzinfo=UTC)
    events = [
        _event(i, "edit", ts + timedelta(seconds=i), file=f"pkg/m{i:03d}.rs", diff=f"--- a/pkg/m{i:03d}.rs\n")
        for i in range(150)
    ]
    curation = compute_curation([events], None, 300.0)
    assert curation.files_touched == 150 and len(curation.files) == 100
    assert curation.files[0] == "pkg/m000.rs" and curation.languages == ["Rust"]


@pytest.mark.parametrize(
    "command",
    [
        "pytest",
        "python -m pytest -x tests/",
        "python3.11 -m unittest discover",
        "uv run pytest -k add",
        "poetry run python -m pytest",
        "FOO=1 BAR=2 tox -e py311",
        "cd web && npm test",
        "npm run test:unit",
        "yarn test --watch=false",
        "go test ./...",
        "cargo test --release",
        "make check",
        "timeout 60 pytest",
        "sudo -E time pytest",
        "./runtests.py",
        "python manage.py test app",
        "bundle exec rspec spec/x_spec.rb",
        "npx jest src",
        "mvn -q test",
        "./gradlew test",
        "dotnet test",
    ],
)
def test_test_runners_are_recognised(command: str) -> None:
    assert is_test_run(command)


@pytest.mark.parametrize(
    "command",
    [
        "git diff",
        "pip install pytest",
        "cat tests/test_calc.py",
        "make",
        "npm install",
        "go build ./...",
        "echo 'pytest",  # unbalanced quote: judged on its plain words, still not a runner
        "python app.py",
        "vim test_calc.py",
        "",
    ],
)
def test_other_commands_are_not_test_runs(command: str) -> None:
    assert not is_test_run(command)


def test_the_traces_own_test_command_counts_with_extra_arguments() -> None:
    assert is_test_run("./ci/check.sh  --fast", "./ci/check.sh")
    assert is_test_run("./ci/check.sh", "  ./ci/check.sh ")
    assert not is_test_run("./ci/check.shx", "./ci/check.sh")
    assert is_test_run("x" * 1_000_000 + " && pytest") is False  # judged on its first 10,000 characters


def test_languages_come_from_extensions() -> None:
    assert language_of("src/a.PY") == "Python"
    assert language_of("Makefile") is None and language_of(".py") is None and language_of("README.md") is None
    assert language_of("web/x.tsx") == "TypeScript" and language_of("k/main.go") == "Go"


def test_parquet_curation_struct_follows_the_model() -> None:
    """A field added to wire.Curation must reach the Parquet export too (and in the same order)."""
    from bugtrail.export.parquet import CURATION_STRUCT
    from bugtrail.wire import REASONING_TYPES, Curation

    assert [field.name for field in CURATION_STRUCT] == list(Curation.model_fields)
    assert [field.name for field in CURATION_STRUCT.field("notes").type] == list(REASONING_TYPES)
