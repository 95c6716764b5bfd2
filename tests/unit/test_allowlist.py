"""The repo allowlist compares parsed URLs: each spelling trick that passed a string-prefix test fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from bugtrail.qa.allowlist import allowlist_problem, repo_allowed

GITHUB = ["https://github.com/org/"]
HOST = ["https://git.example.com"]


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/org/../other/x",
        "https://github.com/org/./x",
        "https://github.com/org/%2e%2e/other/x",
        "https://github.com/org/%2E%2E/other/x",
        "https://github.com/org%2f..%2fother/x",
        "https://github.com/org%2F..%2Fother/x",
        "https://github.com/org2/x",
        "https://github.com/organisation/x",
        "https://github.com/other/org/x",
        "https://github.com/org/x?ref=1",
        "https://github.com/org/x#frag",
        "https://user@github.com/org/x",
        "https://github.com:x@evil.example.net/org/x",
        "https://github.com:443@evil.example.net/org/x",
        "https://github.com.evil.net/org/x",
        "https://github.com:8443/org/x",
        "http://github.com/org/x",
        "ssh://github.com/org/x",
        "git@github.com:org/x",
        "github.com/org/x",
        "https://github.com//org/x",
        "https://github.com/org\\..\\other",
        "-https://github.com/org/x",
        "https://github.com/org/x y",
        "https://github.com/org/x\n",
        "https://github.com\t/org/x",
        "",
    ],
)
def test_spelling_tricks_are_refused(url: str):
    assert not repo_allowed(url, GITHUB), url


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/org/x",
        "https://GitHub.COM/org/x",
        "HTTPS://github.com/org/x.git",
        "https://github.com:443/org/x",
        "https://github.com/org/x/",
        "https://github.com/org/deep/x",
    ],
)
def test_real_spellings_of_allowed_repos_pass(url: str):
    assert repo_allowed(url, GITHUB), url


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://git.example.com/r", True),
        ("https://git.example.com", True),
        ("https://git.example.com:x@evil.example.net/r", False),
        ("https://git.example.com.evil.net/r", False),
        ("https://git.example.comx/r", False),
        ("https://evil.net/git.example.com/r", False),
        ("https://git.example.com:444/r", False),
    ],
)
def test_prefix_without_slash_means_the_whole_host(url: str, allowed: bool):
    assert repo_allowed(url, HOST) is allowed


def test_prefix_path_without_slash_is_a_directory_boundary():
    assert repo_allowed("https://git.example.com/team/r", ["https://git.example.com/team"])
    assert repo_allowed("https://git.example.com/team", ["https://git.example.com/team"])
    assert not repo_allowed("https://git.example.com/teamevil/r", ["https://git.example.com/team"])


def test_file_urls_are_resolved_before_the_check(tmp_path: Path):
    allowed = tmp_path / "allowed"
    elsewhere = tmp_path / "elsewhere"
    (allowed / "repo").mkdir(parents=True)
    (elsewhere / "repo").mkdir(parents=True)
    (allowed / "escape").symlink_to(elsewhere)
    prefix = [f"file://{allowed}/"]
    assert repo_allowed(f"file://{allowed}/repo", prefix)
    assert not repo_allowed(f"file://{allowed}/../elsewhere/repo", prefix)
    assert not repo_allowed(f"file://{allowed}/escape/repo", prefix)
    assert not repo_allowed(f"file://{allowed}/%2e%2e/elsewhere/repo", prefix)
    assert not repo_allowed(f"file://{allowed}x/repo", prefix)
    assert not repo_allowed(f"file://evil.net{allowed}/repo", prefix)
    # The allowlisted prefix itself is resolved too: a link to the allowed directory names the same place.
    (tmp_path / "alias").symlink_to(allowed)
    assert repo_allowed(f"file://{tmp_path}/alias/repo", prefix)
    assert repo_allowed(f"file://{allowed}/repo", [f"file://{tmp_path}/alias"])


def test_malformed_allowlist_entries_admit_nothing():
    assert not repo_allowed("https://github.com/org/x", ["github.com/", "https://user@github.com/", ""])
    assert repo_allowed("https://github.com/org/x", ["garbage", "https://github.com/"])


def test_the_reason_names_the_problem():
    assert "userinfo" in (allowlist_problem("https://a@github.com/x", GITHUB) or "")
    assert "'..'" in (allowlist_problem("https://github.com/org/../x", GITHUB) or "")
    assert "percent" in (allowlist_problem("https://github.com/org/%2e%2e/x", GITHUB) or "")
    assert "scp-style" in (allowlist_problem("git@github.com:org/x", GITHUB) or "")
    assert "no allowlist entry" in (allowlist_problem("https://gitlab.com/org/x", GITHUB) or "")
