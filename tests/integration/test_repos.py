"""Per-repository configuration: /api/repos (admin only) on SQLite and PostgreSQL, the segment-aware lookup
QA calls, the deprecated settings maps as a fallback, and the `bugtrail repos` CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.parse
from pathlib import Path

from bugtrail.config import Settings
from bugtrail.repos.repository import find_config
from bugtrail.repos.schemas import RepoConfig
from bugtrail.repos.service import effective_config, save

CONFIG = {
    "url_prefix": "https://github.com/org/proj/",
    "install_commands": ["pip install -e .[test]", "pip install freezegun"],
    "python_version": "3.11",
    "test_command": "python -m pytest -q tests",
    "test_file_patterns": ["spec/*_spec.py"],
}


def test_admin_round_trip_create_replace_show_delete(client, keys) -> None:
    created = client.post("/api/repos", json=CONFIG, headers=keys.admin)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["url_prefix"] == "https://github.com/org/proj", "one spelling per prefix (no trailing slash)"
    assert body["created"] is True and body["created_by"] == "admin" and body["image"] is None

    replaced = client.post(
        "/api/repos",
        json={"url_prefix": "https://github.com/org/proj", "image": "org/proj-tests:3"},
        headers=keys.admin,
    )
    assert replaced.status_code == 200 and replaced.json()["created"] is False
    assert replaced.json()["id"] == body["id"]
    assert replaced.json()["install_commands"] == [], "replace means every field, not a merge"

    encoded = urllib.parse.quote("https://github.com/org/proj", safe="")
    for ref in (str(body["id"]), encoded):
        shown = client.get(f"/api/repos/{ref}", headers=keys.admin)
        assert shown.status_code == 200, shown.text
        assert shown.json()["image"] == "org/proj-tests:3"
    assert [c["url_prefix"] for c in client.get("/api/repos", headers=keys.admin).json()] == [
        "https://github.com/org/proj"
    ]

    deleted = client.delete(f"/api/repos/{encoded}", headers=keys.admin)
    assert deleted.status_code == 200 and deleted.json()["id"] == body["id"]
    missing = client.get(f"/api/repos/{body['id']}", headers=keys.admin)
    assert missing.status_code == 404 and "bugtrail repos list" in missing.json()["detail"]["hint"]
    assert client.delete(f"/api/repos/{encoded}", headers=keys.admin).status_code == 404


def test_only_admins_may_read_or_change_configurations(client, keys) -> None:
    assert client.post("/api/repos", json=CONFIG, headers=keys.admin).status_code == 201
    for headers in (keys.alice, keys.reviewer):
        assert client.post("/api/repos", json=CONFIG, headers=headers).status_code == 403
        assert client.get("/api/repos", headers=headers).status_code == 403
        assert client.get("/api/repos/1", headers=headers).status_code == 403
        assert client.delete("/api/repos/1", headers=headers).status_code == 403
    assert client.get("/api/repos").status_code == 401
    assert client.get("/api/repos/1", headers=keys.admin).status_code == 200, "nothing was deleted"


def test_invalid_configurations_are_refused_naming_the_field(client, keys) -> None:
    cases = [
        ({"url_prefix": "github.com/org"}, "url_prefix"),
        ({"url_prefix": "https:///org"}, "url_prefix"),
        ({**CONFIG, "install_commands": ["pip install .", "  "]}, "install_commands[1]"),
        ({**CONFIG, "install_commands": ["x" * 4001]}, "install_commands[0]"),
        ({**CONFIG, "install_commands": ["true"] * 51}, "install_commands"),
        ({**CONFIG, "python_version": "3.11.7"}, "python_version"),
        ({**CONFIG, "test_file_patterns": [""]}, "test_file_patterns[0]"),
        ({**CONFIG, "image": "not an image"}, "image"),
        ({**CONFIG, "unknown": 1}, "unknown"),
    ]
    for body, field in cases:
        response = client.post("/api/repos", json=body, headers=keys.admin)
        assert response.status_code == 422, (body, response.text)
        assert [problem["field"] for problem in response.json()["detail"]] == [field], response.text
    assert client.get("/api/repos", headers=keys.admin).json() == []
    assert (
        client.post("/api/repos", json={"url_prefix": "file:///srv/repos"}, headers=keys.admin).status_code
        == 201
    )


def test_lookup_matches_whole_path_segments_longest_first(database) -> None:
    with database.scope() as session:
        save(session, RepoConfig(url_prefix="https://h.example/org", python_version="3.10"), None)
        save(session, RepoConfig(url_prefix="https://h.example/org/a", python_version="3.12"), None)
        save(session, RepoConfig(url_prefix="file:///srv/repos/x", python_version="3.9"), None)
    with database.scope(read_only=True) as session:

        def version(url: str) -> str | None:
            found = find_config(session, url)
            return found.python_version if found else None

        assert version("https://h.example/org/a") == "3.12"
        assert version("https://h.example/org/a.git") == "3.12"
        assert version("https://h.example/org/a/") == "3.12"
        assert version("https://H.EXAMPLE/org/a/sub") == "3.12"
        assert version("git@h.example:org/a.git") == "3.12"
        assert version("https://h.example/org/ab") == "3.10", "a/ab: a string prefix, not a path prefix"
        assert version("https://h.example/organisation/x") is None
        assert version("https://other.example/org/a") is None
        assert version("file:///srv/repos/x") == "3.9"
        assert version("file:///srv/repos/xy") is None
        assert version("not a url") is None


def test_deprecated_maps_are_a_fallback_a_registered_config_overrides(database, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        runner_image_map="https://h.example/org/=legacy-image:1,https://h.example/=old:0",
        test_command_map="https://h.example/org/=pytest -x",
    )
    with database.scope() as session:
        assert effective_config(session, settings, "https://other.example/x") is None
        legacy = effective_config(session, settings, "https://h.example/org/a")
        assert legacy is not None and (legacy.image, legacy.test_command) == ("legacy-image:1", "pytest -x")
        save(session, RepoConfig(url_prefix="https://h.example/org/a", test_command="tox -e py"), None)
        merged = effective_config(session, settings, "https://h.example/org/a")
        assert merged is not None
        assert merged.url_prefix == "https://h.example/org/a"
        assert (merged.test_command, merged.image) == ("tox -e py", "legacy-image:1")
        # Without settings maps, the registered configuration alone.
        alone = effective_config(session, Settings(data_dir=tmp_path), "https://h.example/org/a/")
        assert alone is not None and (alone.test_command, alone.image) == ("tox -e py", None)


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bugtrail", "repos", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_round_trip(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUGTRAIL_")}
    env.update(BUGTRAIL_DATA_DIR=str(tmp_path / "data"), COLUMNS="200", PYTHONPATH=os.pathsep.join(sys.path))
    added = _cli(
        env, "add", "https://github.com/org/proj", "--install", "pip install -e .[test]", "--python", "3.11"
    )
    assert added.returncode == 0 and "registered repository configuration 1" in added.stderr, added.stderr
    assert "replaced" in _cli(env, "add", "https://github.com/org/proj", "--python", "3.12").stderr

    bad = _cli(env, "add", "github.com/org", "--python", "3", "--install", " ")
    assert bad.returncode == 1
    for expected in ("URL_PREFIX", "--python", "--install #1", "nothing was saved"):
        assert expected in bad.stderr, bad.stderr

    listed = _cli(env, "list")
    assert (
        listed.returncode == 0 and "https://github.com/org/proj" in listed.stdout and "3.12" in listed.stdout
    )
    via_url = _cli(env, "show", "https://github.com/org/proj/sub.git")
    assert via_url.returncode == 0 and "via prefix https://github.com/org/proj" in via_url.stdout
    assert _cli(env, "show", "https://github.com/org/projx").returncode == 1

    removed = _cli(env, "remove", "https://github.com/org/proj")
    assert removed.returncode == 0 and "removed repository configuration 1" in removed.stderr
    again = _cli(env, "remove", "1")
    assert again.returncode == 1 and "bugtrail repos list" in again.stderr
