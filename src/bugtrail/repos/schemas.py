"""The repository configuration an admin registers for QA (`bugtrail repos add`, `POST /api/repos`).

The longest registered `url_prefix` matching a trace's repo_url (by path segments) applies to it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RepoConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url_prefix: str = Field(min_length=1, max_length=2000, description="repo_url prefix this applies to")
    install_commands: list[str] = Field(
        default_factory=list, description="shell commands run in the checkout to install what the tests need"
    )
    python_version: str | None = Field(default=None, description='minor version wanted, e.g. "3.11"')
    test_command: str | None = Field(default=None, description="default test command when a trace has none")
    test_file_patterns: list[str] = Field(
        default_factory=list, description="extra fnmatch patterns naming test files (added to the defaults)"
    )
    image: str | None = Field(default=None, description="a ready image to run the tests in (no build)")
