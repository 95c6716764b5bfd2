"""The repository configuration an admin registers for QA (`bugtrail repos add`, `POST /api/repos`).

The longest registered `url_prefix` matching a trace's repo_url (by path segments) applies to it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from bugtrail.repos.urls import parse_prefix

MAX_INSTALL_COMMANDS = 50
MAX_COMMAND_CHARS = 4_000
MAX_PATTERNS = 100
MAX_PATTERN_CHARS = 500
_PYTHON_VERSION = re.compile(r"^[23]\.\d{1,2}$")
_IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _command(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or only whitespace")
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def _pattern(value: str) -> str:
    if not value.strip() or value != value.strip():
        raise ValueError("must be a non-empty pattern without surrounding whitespace")
    if _CONTROL.search(value) or "\n" in value:
        raise ValueError("must not contain control characters")
    return value


Command = Annotated[str, StringConstraints(max_length=MAX_COMMAND_CHARS), AfterValidator(_command)]
Pattern = Annotated[str, StringConstraints(max_length=MAX_PATTERN_CHARS), AfterValidator(_pattern)]


class RepoConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url_prefix: str = Field(min_length=1, max_length=2000, description="repo_url prefix this applies to")
    install_commands: list[Command] = Field(
        default_factory=list,
        max_length=MAX_INSTALL_COMMANDS,
        description="shell commands run in the checkout to install what the tests need",
    )
    python_version: str | None = Field(default=None, description='minor version wanted, e.g. "3.11"')
    test_command: Command | None = Field(
        default=None, description="default test command when a trace has none"
    )
    test_file_patterns: list[Pattern] = Field(
        default_factory=list,
        max_length=MAX_PATTERNS,
        description="extra fnmatch patterns naming test files (added to the defaults)",
    )
    image: str | None = Field(
        default=None, max_length=500, description="a ready image to run the tests in (no build)"
    )

    @field_validator("url_prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        parse_prefix(value)  # raises ValueError saying what is wrong
        stripped = value.rstrip("/")  # one spelling per prefix: "https://h/org/" is "https://h/org"
        return value if stripped.endswith(":") else stripped

    @field_validator("python_version")
    @classmethod
    def _check_python(cls, value: str | None) -> str | None:
        if value is not None and not _PYTHON_VERSION.match(value):
            raise ValueError(f'must be a minor version such as "3.11", not {value!r}')
        return value

    @field_validator("image")
    @classmethod
    def _check_image(cls, value: str | None) -> str | None:
        if value is not None and not _IMAGE.match(value):
            raise ValueError(f"is not a Docker image reference: {value!r}")
        return value


class RepoConfigRead(RepoConfig):
    """A stored configuration, as `GET /api/repos` serves it."""

    id: int
    created_by: str | None = None
    created_at: datetime
    updated_at: datetime


class RepoConfigSaved(RepoConfigRead):
    created: bool = Field(description="false when an existing configuration for the prefix was replaced")
