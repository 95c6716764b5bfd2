"""What QA records about the environment a trace's tests ran in (part of the typed QA result)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

EnvironmentSource = Literal["recorded", "configured", "detected", "default"]


class InferredPackage(BaseModel):
    """A distribution the tests need but no declaration names (qa.environments.inferred)."""

    module: str = Field(description="the import name; installed only when the image cannot import it")
    distribution: str
    why: str = Field(default="", description="where it was seen, e.g. 'imported by tests/test_x.py'")


class EnvironmentPlan(BaseModel):
    """Everything that shapes an environment image; its content hash is the image cache key."""

    source: EnvironmentSource
    python_version: str = Field(description='the Python minor version the image provides, e.g. "3.11"')
    base_image: str = Field(description="the runner base image the environment is built on")
    packages: list[str] = Field(default_factory=list, description="requirement lines to install")
    commands: list[str] = Field(default_factory=list, description="install commands run in the checkout")
    install_project: bool = Field(default=True, description="pip install the checkout itself")
    inferred: list[InferredPackage] = Field(
        default_factory=list,
        description="installed after the declared packages and the project, one at a time, if still missing",
    )
    pytest_below: int | None = Field(
        default=None,
        description="the base commit's pytest era: pytest stays below this major, also when pins are relaxed",
    )
    project_imports: list[str] = Field(
        default_factory=list,
        description="the checkout's top-level packages, checked after the install (with dependencies_as_of)",
    )
    dependencies_as_of: str | None = Field(
        default=None,
        description="for an old base commit: when the project does not import, its runtime dependencies are "
        "reinstalled as of this instant (era_dependencies.py)",
    )
    native_sources: list[str] = Field(
        default_factory=list,
        description="the checkout's C/C++/Cython extension sources: a compiler and the Python headers are "
        "installed, and the extensions are rebuilt in place at test time when the edits change these files",
    )
    notes: list[str] = Field(default_factory=list, description="why this plan: files read, plugins implied")


class EnvironmentInfo(BaseModel):
    """The `environment` field of a QA result."""

    source: EnvironmentSource
    image: str
    image_digest: str | None = None
    python_version: str | None = None
    python_version_requested: str | None = None
    python_version_note: str | None = Field(
        default=None, description="set when the requested version could not be had"
    )
    plan: EnvironmentPlan | None = None
    build_s: float | None = None
    build_notes: list[str] = Field(
        default_factory=list,
        description="fallbacks the install took (version pins relaxed, pytest upgraded); empty when none",
    )
    cache_hit: bool | None = None
    build_log_tail: str | None = None
    inferred_installed: list[str] = Field(
        default_factory=list, description="inferred distributions the build installed"
    )
    inferred_present: list[str] = Field(
        default_factory=list, description="inferred distributions whose module the image already had"
    )
    inferred_failed: list[str] = Field(
        default_factory=list, description="inferred distributions that could not be installed (noted only)"
    )
