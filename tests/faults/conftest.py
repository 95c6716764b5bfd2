"""Fault-injection fixtures: a private PostgreSQL we may stop and restart, and a small filesystem to fill.

The system PostgreSQL on 127.0.0.1:5432 is shared with everyone else's tests, so it is never restarted:
`private_postgres` runs its own instance (initdb + pg_ctl from /usr/lib/postgresql/*/bin) on a free port in
a temporary directory, as the `postgres` OS user (initdb refuses to run as root).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.support.server import free_port


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


@dataclass
class PrivatePostgres:
    bindir: Path
    datadir: Path
    port: int
    user: str

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1 -c fsync=on"
        self._ctl("-o", options, "-l", str(self.datadir / "server.log"), "-w", "start")

    def stop(self, mode: str = "immediate") -> None:
        """mode=immediate is a crash as far as the clients can tell (no goodbye to connections)."""
        self._ctl("-m", mode, "-w", "stop", check=False)

    def new_database(self) -> str:
        name = f"bugtrail_fault_{uuid.uuid4().hex[:10]}"
        admin = create_engine(self.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PrivatePostgres]:
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
    user = "postgres"
    try:
        owner = pwd.getpwnam(user)
    except KeyError:
        pytest.skip("no 'postgres' OS user to run a private PostgreSQL as")
    root = Path(tempfile.mkdtemp(prefix="bugtrail-pg-"))
    datadir = root / "data"
    datadir.mkdir()
    os.chmod(root, 0o755)
    os.chown(datadir, owner.pw_uid, owner.pw_gid)
    init = [str(bindir / "initdb"), "-D", str(datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
    if os.geteuid() == 0:
        init = ["runuser", "-u", user, "--", *init]
    result = subprocess.run(init, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"initdb failed: {result.stderr[-500:]}")
    pg = PrivatePostgres(bindir, datadir, free_port(), user)
    pg.start()
    try:
        yield pg
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class SmallFilesystem:
    path: Path

    def resize(self, size: str) -> None:
        subprocess.run(["mount", "-o", f"remount,size={size}", str(self.path)], check=True, timeout=30)


@pytest.fixture
def small_filesystem() -> Iterator[SmallFilesystem]:
    """A tmpfs of a few MiB we can fill to the last byte and then grow again (needs root and mount)."""
    mountpoint = Path(tempfile.mkdtemp(prefix="bugtrail-full-"))
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mountpoint)], capture_output=True, text=True
    )
    if result.returncode != 0:
        mountpoint.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield SmallFilesystem(mountpoint)
    finally:
        for _ in range(20):
            if subprocess.run(["umount", str(mountpoint)], capture_output=True).returncode == 0:
                break
            time.sleep(0.5)  # a server that has just been stopped may still hold files open
        shutil.rmtree(mountpoint, ignore_errors=True)
