"""Choose the environment plan for a trace: recorded > configured > detected > default.

- recorded: the developer's `pip freeze` pins (trace.environment), minus the project itself, local paths,
  index options and unpinned VCS lines; their Python minor version.
- configured: the admin's RepoConfig (a ready `image` is used as is, no build; `install_commands` and
  `python_version` shape a build).
- detected: what detect.py reads from the checkout.
- default: nothing to install; the runner image (pytest from PyPI) is used as is.

Whatever the source, a plan that leaves pytest's upper bound open is kept to the base commit's pytest major
(pytest_era.py): a suite written before pytest 8 may rely on what pytest 8 removed.

Then, for the sources in BUGTRAIL_ENV_INFER_SOURCES (detected and default unless set otherwise; never
recorded: the developer's environment is the truth), what the tests import but nothing declares
(inferred.py) goes into `inferred`, installed after the rest only where the image still lacks it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bugtrail.config import Settings
from bugtrail.qa.environments.detect import Detection, detect
from bugtrail.qa.environments.era_dependencies import dependencies_cutoff, project_imports
from bugtrail.qa.environments.inferred import infer_needs
from bugtrail.qa.environments.inferred_edits import edit_findings
from bugtrail.qa.environments.pytest_era import bounded_pytest, era_bound
from bugtrail.qa.environments.requirements import judge_developer_line, requirement_name
from bugtrail.qa.environments.schemas import EnvironmentPlan, EnvironmentSource, InferredPackage
from bugtrail.qa.environments.session_installs import session_installs
from bugtrail.qa.image import SUITE_PYTHONS, choose_suite, runner_image_for_suite
from bugtrail.repos.schemas import RepoConfig

if TYPE_CHECKING:
    from bugtrail.wire import TraceRead

log = logging.getLogger(__name__)
# Never pinned from a recorded environment: the image's own installer, Debian/Ubuntu artefacts, and the
# recorder (a developer tool; a local or unreleased build of it cannot be installed from the registry).
RECORDED_SKIP = {"pip", "pkg-resources", "pkg_resources", "distribute", "bugtrail"}


@dataclass
class PlanChoice:
    plan: EnvironmentPlan
    suite: str
    needs_build: bool
    ready_image: str | None = None  # a configured image: used as is
    python_requested: str | None = None
    python_note: str | None = None
    dependency_files: list[str] = field(default_factory=list)  # their content goes into the cache key


def recorded_packages(lines: list[str], project_names: set[str]) -> tuple[list[str], list[str]]:
    """(pins to install, notes on what was dropped and why)."""
    kept: list[str] = []
    notes: list[str] = []
    dropped_project = []
    for line in lines:
        requirement, why = judge_developer_line(line)
        if requirement is None:
            if why:
                notes.append(f"recorded {why}")
            continue
        name = requirement_name(requirement)
        if name in project_names:
            dropped_project.append(requirement)
            continue
        if name in RECORDED_SKIP:
            continue
        if requirement not in kept:
            kept.append(requirement)
    if dropped_project:
        notes.append(f"the project itself ({', '.join(dropped_project)}) is installed from the checkout")
    return kept, notes


def with_pytest(packages: list[str], notes: list[str]) -> list[str]:
    names = {requirement_name(p) for p in packages}
    if "pytest" in names:
        return packages
    notes.append("pytest: added (current, from PyPI)")
    return ["pytest", *packages]


def inferred_packages(
    trace: TraceRead,
    tree: Path,
    test_command: str | None,
    declared: list[str],
    project_name: str | None,
    notes: list[str],
) -> list[InferredPackage]:
    """What the tests (and the trace's edits of them) need beyond the declared packages and the project."""
    try:
        edited, edited_names = edit_findings(e.details for e in trace.events if e.type == "edit")
        inference = infer_needs(tree, test_command, edited=edited, edited_names=edited_names)
    except Exception as exc:  # an extra: a bug in it must cost the inferred tier, never the QA run
        log.exception("inferring test needs failed")
        notes.append(f"inference failed ({type(exc).__name__}); nothing inferred")
        return []
    have = {name for name in map(requirement_name, declared) if name}
    if project_name:
        have.add(str(canonicalize_name(project_name)))
    kept = [
        InferredPackage(module=need.module, distribution=need.distribution, why=need.why)
        for need in inference.needs
        if str(canonicalize_name(need.distribution)) not in have
    ]
    notes.extend(inference.notes)
    notes.extend(f"inferred {p.distribution} ({p.module}): {p.why}" for p in kept)
    notes.extend(
        f"optional import {n.module} ({n.why}, guarded): not installed" for n in inference.optional[:20]
    )
    return kept


def make_plan(
    settings: Settings,
    trace: TraceRead,
    repo_config: RepoConfig | None,
    tree: Path,
    test_command: str | None = None,
    commit_date: datetime | None = None,
) -> PlanChoice:
    """`commit_date` (the base commit's committer date) bounds pytest to the commit's era (pytest_era.py)."""
    detection = detect(tree)
    recorded = trace.environment
    config = repo_config
    python_requested = (recorded.python_version if recorded else None) or (
        config.python_version if config else None
    )
    suite, python_note = choose_suite(
        python_requested, None if python_requested else detection.requires_python
    )
    base_image = runner_image_for_suite(settings, suite)
    notes: list[str] = []
    if python_note and not python_requested:
        notes.append(python_note)

    if config and config.image:
        plan = EnvironmentPlan(
            source="configured",
            python_version=python_requested or SUITE_PYTHONS[suite],
            base_image=config.image,
            install_project=False,
            notes=[f"configured image {config.image} used as is (no build); config {config.url_prefix}"],
        )
        return PlanChoice(plan, suite, False, config.image, python_requested, python_note)

    commands = list(config.install_commands) if config else []
    if commands:
        notes.append(f"install commands from repository config {config.url_prefix if config else ''}")
    # The project itself is installed from the checkout, never from a recorded pin or a session install.
    own_names = [*(recorded.project if recorded else []), detection.project_name]
    own = {str(canonicalize_name(n)) for n in own_names if n}
    source: EnvironmentSource
    if recorded and recorded.packages:
        source = "recorded"
        packages, dropped = recorded_packages(recorded.packages, own)
        notes.append(
            f"{len(packages)} pins from the developer's environment ({recorded.captured_by or 'recorder'})"
        )
        notes.extend(dropped)
        install_project = detection.has_project
    elif config and (commands or config.python_version):
        source = "configured"
        packages, install_project = configured_packages(detection, bool(commands), notes)
    elif detection.packages or detection.has_project:
        source = "detected"
        packages = list(detection.packages) + [
            r for r in detection.build_requires if r not in detection.packages
        ]
        notes.extend(detection.notes)
        if detection.build_requires:
            notes.append(
                f"build-system requires {', '.join(detection.build_requires)} (offline reinstall works)"
            )
        install_project = detection.has_project
    else:
        source = "default"
        packages, install_project = [], False
        notes.append("nothing to install was found; the runner image is used as is")
    packages = with_pytest(packages, notes) if source != "default" else ["pytest"]
    below, why = era_bound(commit_date, SUITE_PYTHONS[suite])
    bounded = False
    if below is not None:
        packages, bounded = bounded_pytest(packages, below)
        if bounded and why:
            notes.append(why)
    packages, added = with_session_installs(trace, packages, own, notes)
    inferred: list[InferredPackage] = []
    if source in settings.env_infer_sources:
        inferred = inferred_packages(trace, tree, test_command, packages, detection.project_name, notes)
    imports: list[str] = []
    cutoff = dependencies_cutoff(commit_date) if install_project and source != "recorded" else None
    if install_project:
        notes.append(
            "the checkout is installed editable at /workspace/repo (the mounted work tree is imported)"
        )
        imports = project_imports(tree) if cutoff else []
        if imports:
            notes.append(
                f"an old base commit: if the project ({', '.join(imports)}) does not import with today's "
                f"releases, its runtime dependencies are reinstalled as of {cutoff}"
            )
    plan = EnvironmentPlan(
        source=source,
        python_version=SUITE_PYTHONS[suite],
        base_image=base_image,
        packages=packages,
        commands=commands,
        install_project=install_project,
        inferred=inferred,
        pytest_below=below,
        project_imports=imports,
        dependencies_as_of=cutoff if imports else None,
        native_sources=list(detection.native_sources) if install_project else [],
        notes=notes,
    )
    needs_build = source != "default" or bool(inferred) or added or bounded
    return PlanChoice(plan, suite, needs_build, None, python_requested, python_note, list(detection.files))


def with_session_installs(
    trace: TraceRead, packages: list[str], own: set[str], notes: list[str]
) -> tuple[list[str], bool]:
    """The plan's packages plus what the developer pip-installed during the session (a pin the session
    changed replaces the recorded one); (packages, whether anything was added or changed)."""
    installed, session_notes = session_installs(e.details for e in trace.events if e.type == "command")
    notes.extend(session_notes[:20])
    by_name = {requirement_name(line): index for index, line in enumerate(packages)}
    merged, changed = list(packages), False
    for line in installed:
        name = requirement_name(line)
        if name in own:
            continue
        if name not in by_name:
            merged.append(line)
            notes.append(f"{line}: installed during the session")
            changed = True
        elif Requirement(line).specifier and merged[by_name[name]] != line:
            notes.append(f"{line}: installed during the session (instead of {merged[by_name[name]]})")
            merged[by_name[name]] = line
            changed = True
    return merged, changed


def configured_packages(detection: Detection, has_commands: bool, notes: list[str]) -> tuple[list[str], bool]:
    """With install commands the admin installs the project; detection adds the implied pytest plugins."""
    if not has_commands:
        notes.append("python version from repository config; packages detected")
        notes.extend(detection.notes)
        return list(detection.packages), detection.has_project
    notes.extend(f"{line}: {why}" for line, why in detection.plugins.items())
    return list(detection.plugins), False
