"""Repository URLs compare by host and whole path segments."""

from __future__ import annotations

import pytest

from bugtrail.repos.urls import parse_prefix, prefix_matches, repo_key


@pytest.mark.parametrize(
    ("prefix", "url", "matches"),
    [
        ("https://h/org/a", "https://h/org/a", True),
        ("https://h/org/a", "https://h/org/a/b", True),
        ("https://h/org/a", "https://h/org/ab", False),
        ("https://h/org/a", "https://h/org", False),
        ("https://h/org", "ssh://git@H/org/x.git", True),
        ("https://h/org", "git@h:org/x.git", True),
        ("https://h:8443/org", "https://h/org/x", False),
        ("file:///srv/r", "file:///srv/r/x", True),
        ("file:///srv/r", "https://srv/r/x", False),
    ],
)
def test_prefix_matching(prefix: str, url: str, matches: bool) -> None:
    key = repo_key(url)
    assert key is not None
    assert prefix_matches(parse_prefix(prefix), key) is matches


@pytest.mark.parametrize(
    "bad", ["github.com/org", "https:///org", "https://h/org?x=1", "https://h/o rg", "/srv/r"]
)
def test_prefixes_must_be_urls_with_a_host(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_prefix(bad)
