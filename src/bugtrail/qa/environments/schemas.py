"""What QA records about the environment a trace's tests ran in (part of the typed QA result)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

EnvironmentSource = Literal["recorded", "configured", "detected", "default"]


class EnvironmentPlan(BaseModel):
    """Everything that shapes an environment image; its content hash is the image cache key."""

    source: EnvironmentSource
    python_version: str = Field(description='the Python minor version the image provides, e.g. "3.11"')
    base_image: str = Field(description="the runner base image the environment is built on")
    packages: list[str] = Field(default_factory=list, description="requirement lines to install")
    commands: list[str] = Field(default_factory=list, description="install commands run in the checkout")
    install_project: bool = Field(default=True, description="pip install the checkout itself")
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
