"""The SDK and the recorder CLI must not drag in the server's dependencies (nor start slowly)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")
# All of these come only with `bugtrail[server]` (see tests/integration/test_plain_install.py).
FORBIDDEN = ("fastapi", "sqlalchemy", "starlette", "alembic", "docker", "openai", "uvicorn", "httpx")

PROBE = """
import json, sys
import bugtrail
client_cls = bugtrail.Client
import bugtrail.sdk.client, bugtrail.sdk.session, bugtrail.sdk.snapshots, bugtrail.sdk.capture
import bugtrail.sdk.spool, bugtrail.sdk.config, bugtrail.sdk.watch
import bugtrail.cli.app, bugtrail.cli.recorder_cmd, bugtrail.cli.recorder_view
import bugtrail.cli.entry, bugtrail.cli.recorder_verbs
print(json.dumps(sorted(m.split(".")[0] for m in sys.modules)))
"""


def test_sdk_and_recorder_cli_do_not_import_server_dependencies() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], env={"PYTHONPATH": SRC}, capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(proc.stdout))
    assert "bugtrail" in loaded
    assert not loaded & set(FORBIDDEN), f"server dependencies imported: {sorted(loaded & set(FORBIDDEN))}"


def test_client_is_exposed_lazily_from_the_package() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, bugtrail; print('bugtrail.sdk.client' in sys.modules);"
            "from bugtrail import Client; print(Client.__module__)",
        ],
        env={"PYTHONPATH": SRC},
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.split() == ["False", "bugtrail.sdk.client"]


def test_everyday_verbs_skip_the_typer_app(tmp_path: Path) -> None:
    """`bugtrail note/run/snapshot` must not pay for Typer, Rich or the other commands' imports."""
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    env = {"PYTHONPATH": SRC, "BUGTRAIL_SERVER": "http://127.0.0.1:9", "HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bugtrail", "note", "hello"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1 and "bugtrail start" in proc.stderr  # no session: says what to do
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "bugtrail.cli.recorder_verbs" in imported
    assert not imported & {"typer", "rich", "click", "pydantic", "bugtrail.cli.app"}, sorted(imported)
