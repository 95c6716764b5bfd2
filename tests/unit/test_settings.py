"""Typed settings: list and map values parsed once from the environment (CSV or JSON), a closed judge choice,
and errors that name the variable."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bugtrail.config import Settings, setting_problems


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in [name for name in os.environ if name.startswith("BUGTRAIL_")]:
        monkeypatch.delenv(name)


def test_comma_separated_variables_become_lists_and_maps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUGTRAIL_REPO_ALLOWLIST", " file:///srv/repos/ , https://github.com/,, ")
    monkeypatch.setenv("BUGTRAIL_WEBHOOK_ALLOW_PRIVATE", "127.0.0.1,10.0.0.0/8")
    monkeypatch.setenv(
        "BUGTRAIL_RUNNER_IMAGE_MAP", "https://h.example/org/=img:1, https://h.example/ = img:0"
    )
    monkeypatch.setenv("BUGTRAIL_TEST_FILE_PATTERNS", "spec/*")
    settings = Settings()
    assert settings.repo_allowlist == ["file:///srv/repos/", "https://github.com/"]
    assert settings.webhook_allow_private == ["127.0.0.1", "10.0.0.0/8"]
    assert settings.runner_image_map == {"https://h.example/org/": "img:1", "https://h.example/": "img:0"}
    assert settings.test_file_patterns == ["spec/*"]
    assert settings.webhook_allowlist == [] and settings.test_command_map == {}


def test_json_values_are_accepted_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUGTRAIL_WEBHOOK_ALLOWLIST", '["https://hooks.example/a,b"]')
    monkeypatch.setenv("BUGTRAIL_TEST_COMMAND_MAP", '{"https://h.example/": "pytest -k \'a or b\'"}')
    settings = Settings()
    assert settings.webhook_allowlist == ["https://hooks.example/a,b"]  # a comma inside one entry
    assert settings.test_command_map == {"https://h.example/": "pytest -k 'a or b'"}


def test_defaults_are_lists_not_shared_between_instances() -> None:
    first, second = Settings(), Settings()
    assert "https://github.com/" in first.repo_allowlist and "conftest.py" in first.test_file_patterns
    first.repo_allowlist.append("file:///x/")
    assert "file:///x/" not in second.repo_allowlist


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            "BUGTRAIL_TEST_COMMAND_MAP",
            "https://h.example/=pytest,oops",
            "BUGTRAIL_TEST_COMMAND_MAP='https://h.example/=pytest,oops': entry 'oops' is not prefix=value",
        ),
        (
            "BUGTRAIL_RUNNER_IMAGE_MAP",
            "https://h.example/=",
            "entry 'https://h.example/=' is not prefix=value",
        ),
        ("BUGTRAIL_RUNNER_IMAGE_MAP", "https://a/=x,https://a/=y", "prefix 'https://a/' appears twice"),
        ("BUGTRAIL_REPO_ALLOWLIST", '["https://github.com/"', "looks like JSON but does not parse"),
        ("BUGTRAIL_TEST_COMMAND_MAP", '{"https://a/": 3}', "BUGTRAIL_TEST_COMMAND_MAP"),
        (
            "BUGTRAIL_JUDGE",
            "claude",
            "BUGTRAIL_JUDGE='claude': Input should be 'openai', 'heuristic' or 'auto'",
        ),
        ("BUGTRAIL_PORT", "eighty", "BUGTRAIL_PORT='eighty'"),
    ],
)
def test_invalid_values_are_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    problems = setting_problems(caught.value)
    assert len(problems) == 1 and expected in problems[0], problems


def test_the_judge_choice_is_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUGTRAIL_JUDGE", " Heuristic ")
    assert Settings().judge == "heuristic"


def test_an_aliased_setting_is_named_by_its_documented_variable() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(openai_api_key=3)  # type: ignore[arg-type]
    assert setting_problems(caught.value)[0].startswith("OPENAI_API_KEY=3:")
