"""What the load benchmarks share: a scratch PostgreSQL database, API keys written straight into the
database, the CPU time of a server's whole process tree, and the exactly-once check at the end of a run.

Used by benchmarks/ingest_bench.py and benchmarks/loadgen.py (and, through them, by the test that runs the
ingestion benchmark end to end).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.server import child_pids


def add_server_env_option(parser: argparse.ArgumentParser) -> None:
    """`--server-env KEY=VALUE` (repeatable) for a benchmark's server: an A/B of a setting, or a baseline
    (PYTHONPATH=OTHER/src runs another checkout's server in the same run)."""
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        type=lambda text: tuple(text.split("=", 1)) if "=" in text else parser.error(f"{text!r}: KEY=VALUE"),
        help="KEY=VALUE for the server's environment (repeatable), e.g. BUGTRAIL_AUTH_CACHE_TTL_S=300 or "
        "PYTHONPATH=../main/src",
    )


POSTGRES_ADMIN_URL = os.environ.get(
    "BUGTRAIL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@contextmanager
def scratch_postgres(admin_url: str = POSTGRES_ADMIN_URL) -> Iterator[str]:
    """A fresh, uniquely named PostgreSQL database (empty: the server migrates it); dropped afterwards."""
    from sqlalchemy import create_engine, make_url, text

    name = f"bugtrail_load_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def seed_developer_keys(database_url: str, data_dir: Path, count: int, prefix: str = "loaddev") -> list[str]:
    """Migrate the database and write `count` developer keys (plus an admin key, so the server prints no
    first-start key) straight into it: thousands of key requests would be a benchmark of their own."""
    from bugtrail.auth.keys import create_key
    from bugtrail.config import Settings
    from bugtrail.db.engine import Database
    from bugtrail.db.migrate import upgrade

    database = Database(Settings(data_dir=data_dir, database_url=database_url, embedded_worker=False))
    try:
        upgrade(database.engine)
        keys = []
        with database.scope() as session:
            create_key(session, f"{prefix}-admin", "admin")
            for i in range(count):
                keys.append(create_key(session, f"{prefix}{i:05d}", "developer")[1])
        return keys
    finally:
        database.dispose()


def _stat_fields(pid: int) -> list[str]:
    # The command name (field 2) may contain spaces and parentheses: split after its closing one.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_tree(pid: int) -> list[int]:
    """`pid` and all its living descendants (uvicorn's worker processes, their helpers)."""
    tree = [pid]
    with contextlib.suppress(OSError):  # it may exit while we look
        for child in child_pids(pid):
            tree.extend(process_tree(child))
    return tree


def cpu_by_process(pid: int) -> dict[int, float]:
    """CPU seconds of `pid` and each living descendant: utime + stime, plus what their exited, reaped
    children used (cutime + cstime)."""
    out = {}
    for member in process_tree(pid):
        try:
            fields = _stat_fields(member)
        except OSError:
            continue
        # Fields after the command name, 0-based: 11 utime, 12 stime, 13 cutime, 14 cstime.
        out[member] = sum(int(fields[i]) for i in (11, 12, 13, 14)) / os.sysconf("SC_CLK_TCK")
    return out


def tree_cpu_seconds(pid: int) -> float:
    """The server's CPU seconds so far, all its processes. Take it before and after a phase: the
    difference is the server's CPU for it."""
    return sum(cpu_by_process(pid).values())


@dataclass(frozen=True)
class ExactlyOnce:
    acked: int
    stored_once: int
    missing: int
    duplicated: int  # event ids stored more than once (acknowledged or not: each was sent as one event)
    stored_total: int

    @property
    def passed(self) -> bool:
        return self.acked == self.stored_once and not self.missing and not self.duplicated

    def describe(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        return (
            f"exactly once: {self.acked} acknowledged, {self.stored_once} stored exactly once, "
            f"{self.missing} missing, {self.duplicated} duplicated ({self.stored_total} rows in the event "
            f"table): {verdict}"
        )


def check_exactly_once(database_url: str, acked_event_ids: Iterable[str]) -> ExactlyOnce:
    """Count every stored event by event_id in the database and compare with what the server acknowledged."""
    from sqlalchemy import create_engine, func, select

    from bugtrail.db.models import Event

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            stored = {
                str(row.event_id): int(row.n)
                for row in conn.execute(
                    select(Event.event_id, func.count().label("n")).group_by(Event.event_id)
                )
            }
    finally:
        engine.dispose()
    acked = set(acked_event_ids)
    return ExactlyOnce(
        acked=len(acked),
        stored_once=sum(1 for event_id in acked if stored.get(event_id) == 1),
        missing=sum(1 for event_id in acked if event_id not in stored),
        duplicated=sum(1 for n in stored.values() if n > 1),
        stored_total=sum(stored.values()),
    )


def busy_processes(exclude: int, seconds: float = 0.5, top: int = 5) -> list[tuple[str, float]]:
    """The processes (outside `exclude`'s tree) that used the most CPU over `seconds`, as (name, share of a
    core): on a shared machine, what else ran while a benchmark measured."""
    ours = set(process_tree(exclude))

    def sample() -> dict[int, tuple[str, int]]:
        out = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) in ours:
                continue
            try:
                text = (entry / "stat").read_text()
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            name = program_name(argv) or text[text.find("(") + 1 : text.rfind(")")]
            fields = text.rsplit(")", 1)[1].split()
            out[int(entry.name)] = (name, int(fields[11]) + int(fields[12]))
        return out

    before = sample()
    time.sleep(seconds)
    used: dict[str, float] = {}
    for pid, (name, ticks) in sample().items():
        delta = ticks - before.get(pid, (name, ticks))[1]
        if delta > 0:
            used[name] = used.get(name, 0.0) + delta / os.sysconf("SC_CLK_TCK") / seconds
    return sorted(used.items(), key=lambda item: -item[1])[:top]


def program_name(argv: list[bytes]) -> str:
    """What a process runs, briefly: `pytest` for `python -m pytest ...`, `export_bench.py` for
    `python benchmarks/export_bench.py ...`, the executable's name otherwise ("" for kernel threads)."""
    args = [a.decode(errors="replace") for a in argv if a]
    if not args:
        return ""
    program = Path(args[0].split(" ", 1)[0]).name[:40]  # some programs rewrite argv[0] with spaces
    if program.startswith("python"):
        rest = iter(args[1:])
        for arg in rest:
            if arg == "-m":
                return next(rest, program)
            if not arg.startswith("-"):
                return Path(arg).name
    return program
