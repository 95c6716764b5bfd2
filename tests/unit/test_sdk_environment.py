"""`pip freeze` lines from PEP 610 direct_url.json, the project left out, entries kept under server limits."""

from __future__ import annotations

import json
from pathlib import Path

from bugtrail.sdk import environment as env_capture


def dist(name: str, version: str, direct_url: dict | None = None) -> list:
    return [name, version, json.dumps(direct_url) if direct_url is not None else None]


def test_lines_are_written_as_pip_freeze_writes_them(tmp_path: Path) -> None:
    tree = tmp_path / "work"
    (tree / "sub").mkdir(parents=True)
    (tree / "setup.cfg").write_text("[metadata]\nname = My.Project\n")
    dists = [
        dist("zope.interface", "6.1"),
        dist("PyYAML", "6.0.1"),
        dist("pip", "24.0"),
        dist("setuptools", "69.0"),
        dist(
            "vcs-pkg",
            "1.0",
            {"url": "https://g.example/o/r.git", "vcs_info": {"vcs": "git", "commit_id": "abc"}},
        ),
        dist(
            "archived",
            "2.0",
            {
                "url": "https://files.example/a-2.0.tar.gz",
                "archive_info": {"hash": "sha256=ff"},
                "subdirectory": "py",
            },
        ),
        dist("localdir", "0.3", {"url": "file:///opt/src/localdir", "dir_info": {}}),
        dist("plugin", "0.1", {"url": "file:///opt/src/plugin%20x", "dir_info": {"editable": True}}),
        dist("my_project", "0.9"),  # named like setup.cfg's project: left out
        dist(
            "helper", "0.1", {"url": (tree / "sub").as_uri(), "dir_info": {"editable": True}}
        ),  # in the tree
    ]
    lines, project = env_capture._freeze_lines(dists, "3.11.7", tree.resolve())
    assert lines == [  # sorted by name, case-insensitively, editable ones included (as pip does)
        "archived @ https://files.example/a-2.0.tar.gz#sha256=ff&subdirectory=py",
        "localdir @ file:///opt/src/localdir",
        "-e /opt/src/plugin x",
        "PyYAML==6.0.1",
        "vcs-pkg @ git+https://g.example/o/r.git@abc",
        "zope.interface==6.1",
    ]
    assert project == ["helper", "my_project"]
    # From Python 3.12 pip freeze lists setuptools; pip itself never.
    lines_312, _ = env_capture._freeze_lines(dists, "3.12.1", tree.resolve())
    assert "setuptools==69.0" in lines_312 and not any(line.startswith("pip==") for line in lines_312)


def test_entries_the_server_would_refuse_are_left_out_with_a_note() -> None:
    notes: list[str] = []
    kept = env_capture._bounded(["ok==1", "bad\x1b==1", "x" * 2000, "fine==2"], notes)
    assert kept == ["ok==1", "fine==2"] and notes == ["2 package entries left out (too long or unprintable)"]
    notes = []
    many = env_capture._bounded([f"p{i}==1" for i in range(6000)], notes)
    assert len(many) == env_capture.MAX_PACKAGES and "only the first 5000 of 6000" in notes[0]
