"""prepare_environment: the one entry point QA calls before the before/after test runs.

plan (recorded > configured > detected > default) -> runner base for the Python (built on demand) -> cached
image for the plan's content hash, or pulled from BUGTRAIL_IMAGE_REGISTRY, or built (one build per key across
processes) -> LRU pruning to BUGTRAIL_ENV_CACHE_MAX_GB. Build failures come back as `error` (an environment
failure, graded as such), never as an exception; an unreachable Docker daemon raises QaInfraError.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bugtrail.config import Settings
from bugtrail.errors import BugtrailError, Unavailable
from bugtrail.qa.docker_api import LABEL_ROLE, docker_client
from bugtrail.qa.environments.build import EnvBuildError, build_image, read_outcome_label, remove_image
from bugtrail.qa.environments.cache import (
    LABEL_KEY,
    LABEL_REPO,
    LABEL_SOURCE,
    ROLE_ENV,
    CacheEntry,
    EnvCache,
    EnvCacheError,
    cache_key,
    cap_bytes,
    env_tag,
    prune,
)
from bugtrail.qa.environments.plan import PlanChoice, make_plan
from bugtrail.qa.environments.schemas import EnvironmentInfo, EnvironmentPlan
from bugtrail.qa.errors import QaInfraError
from bugtrail.qa.image import SUITE, SUITE_PYTHONS, build_runner_image, python_minor
from bugtrail.qa.workspace import commit_date
from bugtrail.repos.schemas import RepoConfig

if TYPE_CHECKING:
    from bugtrail.wire import TraceRead

log = logging.getLogger(__name__)
BUILD_LOG = "build.log"


@dataclass
class PreparedEnvironment:
    info: EnvironmentInfo  # stored in the QA result as `environment`
    image: str  # image to run the before/after tests in
    error: str | None  # set when no usable environment could be built (an environment error)


def prepare_environment(
    settings: Settings,
    trace: TraceRead,
    repo_config: RepoConfig | None,
    tree: Path,
    mirror: Path,
    log_dir: Path,
    test_command: str | None = None,
) -> PreparedEnvironment:
    """`test_command` names the tests whose imports are inferred (none: the tests under the whole tree)."""
    env_dir = log_dir / "env"
    env_dir.mkdir(parents=True, exist_ok=True)
    choice = make_plan(
        settings, trace, repo_config, tree, test_command, commit_date(mirror, trace.base_commit or "")
    )
    info = EnvironmentInfo(
        source=choice.plan.source,
        image=choice.ready_image or choice.plan.base_image,
        python_version=choice.plan.python_version,
        python_version_requested=choice.python_requested,
        python_version_note=choice.python_note,
        plan=choice.plan,
    )
    (env_dir / "plan.json").write_text(choice.plan.model_dump_json(indent=2))
    try:
        client = docker_client(settings)
    except Unavailable as exc:
        raise QaInfraError("no Docker daemon is reachable", str(exc.detail)) from exc
    try:
        if choice.ready_image:
            return _ready_image(client, info, choice.ready_image)
        if not ensure_runner_base(settings, client, choice.suite, env_dir):
            choice = _on_default_suite(settings, choice, info)
        if not choice.needs_build:
            _set_python(info, runner_python(settings, client, info.image))
            return PreparedEnvironment(info, info.image, None)
        return _cached_or_built(settings, client, trace, choice, tree, mirror, env_dir, info)
    finally:
        client.close()


def _ready_image(client: Any, info: EnvironmentInfo, image: str) -> PreparedEnvironment:
    found = _image(client, image)
    if found is None:
        return PreparedEnvironment(info, image, f"the configured image {image!r} is not on this Docker host")
    info.image_digest = str(found.id)
    return PreparedEnvironment(info, image, None)


def ensure_runner_base(settings: Settings, client: Any, suite: str, env_dir: Path) -> bool:
    """True when the runner image for `suite` exists (a non-default one is built on demand); False when
    on-demand builds are off. A missing default runner or a failed build is infrastructure (QaInfraError)."""
    from bugtrail.qa.image import runner_image_for_suite

    tag = runner_image_for_suite(settings, suite)
    if _image(client, tag) is not None:
        return True
    if suite == SUITE:
        raise QaInfraError(f"runner image {tag!r} not found", "run `bugtrail runner build-image`")
    if not settings.env_build_suites:
        return False
    with EnvCache(settings).lock(f"runner-{suite}"):
        if _image(client, tag) is not None:
            return True
        lines: list[str] = []
        try:
            build_runner_image(settings, suite=suite, report=lines.append)
        except BugtrailError as exc:
            (env_dir / f"runner-{suite}.log").write_text("\n".join([*lines, exc.message, str(exc.detail)]))
            raise QaInfraError(
                f"could not build the {suite} runner image: {exc.message}", exc.detail
            ) from exc
    return True


def _on_default_suite(settings: Settings, choice: PlanChoice, info: EnvironmentInfo) -> PlanChoice:
    """The plan moved to the default suite's runner (BUGTRAIL_ENV_BUILD_SUITES=false), noted."""
    from bugtrail.qa.image import runner_image_for_suite

    python = SUITE_PYTHONS[SUITE]
    note = (
        f"the {choice.suite} runner image is not built and BUGTRAIL_ENV_BUILD_SUITES is off; "
        f"using Python {python} ({SUITE})"
    )
    plan = choice.plan.model_copy(
        update={"base_image": runner_image_for_suite(settings, SUITE), "python_version": python}
    )
    plan.notes.append(note)
    info.plan, info.image, info.python_version = plan, plan.base_image, python
    info.python_version_note = note
    choice.plan, choice.suite, choice.python_note = plan, SUITE, note
    return choice


def _cached_or_built(
    settings: Settings,
    client: Any,
    trace: TraceRead,
    choice: PlanChoice,
    tree: Path,
    mirror: Path,
    env_dir: Path,
    info: EnvironmentInfo,
) -> PreparedEnvironment:
    import docker.errors

    plan = choice.plan
    base = _image(client, plan.base_image)
    key = cache_key(plan, str(base.id if base else plan.base_image), tree, choice.dependency_files)
    tag = env_tag(key)
    cache = EnvCache(settings)
    info.image = tag
    with cache.lock(key):  # one build per key; whoever waited finds the image afterwards
        found = _image(client, tag)
        if found is None and settings.image_registry:
            found = _pull(settings, client, tag, key, plan.source, trace.repo_url)
        if found is not None:
            entry = cache.get(key) or _entry_from_image(cache, client, key, tag, found, trace.repo_url, plan)
            cache.touch(key)
            info.cache_hit = True
            info.image_digest = str(found.id)
            info.build_s = entry.build_s if entry else None
            info.build_notes = list(entry.notes or []) if entry else []
            _set_python(info, entry.python_version if entry else None)
            _set_inferred(info, entry.inferred if entry else None)
            return PreparedEnvironment(info, tag, None)

        labels = {
            LABEL_ROLE: ROLE_ENV,
            LABEL_KEY: key,
            LABEL_SOURCE: plan.source,
            LABEL_REPO: trace.repo_url[:500],
        }
        try:
            outcome = build_image(
                settings,
                plan,
                mirror=mirror,
                commit=trace.base_commit or "HEAD",
                labels=labels,
                log_path=env_dir / BUILD_LOG,
            )
        except EnvBuildError as exc:
            info.cache_hit = False
            info.build_log_tail = exc.log_tail or exc.message
            return PreparedEnvironment(info, tag, exc.message)
        info.cache_hit = False
        info.build_s = outcome.seconds
        info.build_notes = list(outcome.notes)
        info.image_digest = outcome.image_id
        _set_python(info, outcome.python_version)
        _set_inferred(info, outcome.inferred)
        image = client.images.get(outcome.image_id)
        try:
            # The index entry first, then the tag: a tag never names an image the cache did not record.
            _entry_for(
                cache,
                client,
                key,
                tag,
                image,
                trace.repo_url,
                plan.source,
                outcome.python_version,
                outcome.seconds,
                strict=True,
                base_image=plan.base_image,
                notes=outcome.notes,
                inferred=outcome.inferred,
            )
            image.tag(tag.split(":")[0], tag.split(":")[1])
        except (EnvCacheError, OSError, docker.errors.APIError) as exc:
            remove_image(client, outcome.image_id)
            cache.forget(key)
            info.build_log_tail = str(exc)
            return PreparedEnvironment(info, tag, f"the built environment could not be cached: {exc}")
        if settings.image_registry:
            _push(settings, client, tag, key)
    _evict(settings, client, key)
    return PreparedEnvironment(info, tag, None)


def _entry_from_image(
    cache: EnvCache, client: Any, key: str, tag: str, image: Any, repo_url: str, plan: EnvironmentPlan
) -> CacheEntry | None:
    """An index entry for an image this worker did not build (pulled, or its index lost): what the build
    found comes from the label the building worker stamped on it."""
    stamped = read_outcome_label(image.labels)
    build_s = stamped.get("build_s")
    notes = stamped.get("notes")
    inferred = stamped.get("inferred")
    python_version = stamped.get("python_version")
    return _entry_for(
        cache,
        client,
        key,
        tag,
        image,
        repo_url,
        plan.source,
        python_version if isinstance(python_version, str) else None,
        float(build_s) if isinstance(build_s, int | float) else None,
        base_image=plan.base_image,
        notes=[str(n) for n in notes] if isinstance(notes, list) else None,
        inferred={str(k): [str(x) for x in v] for k, v in inferred.items() if isinstance(v, list)}
        if isinstance(inferred, dict)
        else None,
    )


def _entry_for(
    cache: EnvCache,
    client: Any,
    key: str,
    tag: str,
    image: Any,
    repo_url: str,
    source: str,
    python_version: str | None,
    build_s: float | None = None,
    strict: bool = False,
    base_image: str | None = None,
    notes: list[str] | None = None,
    inferred: dict[str, list[str]] | None = None,
) -> CacheEntry | None:
    base_size = 0
    with contextlib.suppress(Exception):
        base_size = int(client.images.get(base_image).attrs.get("Size") or 0) if base_image else 0
    size = int(image.attrs.get("Size") or 0)
    now = time.time()
    entry = CacheEntry(
        key=key,
        tag=tag,
        image_id=str(image.id),
        repo_url=repo_url,
        source=source,
        python_version=python_version,
        unique_bytes=max(0, size - base_size) or size,
        built_at=now,
        last_used=now,
        build_s=build_s,
        notes=notes,
        inferred=inferred,
    )
    try:
        cache.record(entry)
    except EnvCacheError:
        if strict:
            raise
        return None
    return entry


def _set_inferred(info: EnvironmentInfo, report: dict[str, list[str]] | None) -> None:
    """What the build's inferred step did (kept in the cache index, so a reused image reports it too)."""
    if not report:
        return
    info.inferred_installed = list(report.get("installed", []))
    info.inferred_present = list(report.get("present", []))
    info.inferred_failed = list(report.get("failed", []))


def _set_python(info: EnvironmentInfo, actual: str | None) -> None:
    if not actual:
        return
    info.python_version = actual
    requested = info.python_version_requested
    same_minor = bool(requested) and python_minor(requested) == python_minor(actual)
    if requested and same_minor and info.python_version_note is None and requested.strip() != actual:
        info.python_version_note = f"Python {actual} instead of the requested {requested} (same minor)"


def runner_python(settings: Settings, client: Any, image: str) -> str | None:
    """The exact Python version of a runner image (written at its build), probed once per image id."""
    import docker.errors

    found = _image(client, image)
    if found is None:
        return None
    path = settings.data_dir.resolve() / "env-cache" / "runner-pythons.json"
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        known = {}
    if isinstance(known, dict) and isinstance(known.get(found.id), str):
        return str(known[found.id])
    try:
        output = client.containers.run(
            found.id,
            ["/opt/bugtrail/python-version"],
            entrypoint=["cat"],
            network_mode="none",
            remove=True,
            stdout=True,
            stderr=False,
        )
    except docker.errors.DockerException:
        return None  # an older runner image without the file: the minor version stays
    version = output.decode(errors="replace").strip()[:40]
    if python_minor(version) is None:
        return None
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({**(known if isinstance(known, dict) else {}), found.id: version}))
    return version


def _image(client: Any, name: str) -> Any:
    import docker.errors

    try:
        return client.images.get(name)
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.APIError as exc:
        raise QaInfraError("the Docker daemon failed while looking up an image", str(exc)) from exc


def registry_tag(settings: Settings, tag: str) -> str:
    return f"{(settings.image_registry or '').rstrip('/')}/{tag}"


def _pull(settings: Settings, client: Any, tag: str, key: str, source: str, repo_url: str) -> Any:
    """The image from the shared registry, tagged locally; None when the registry does not have it."""
    import docker.errors

    remote = registry_tag(settings, tag)
    repository, _, version = remote.rpartition(":")
    try:
        image = client.images.pull(repository, tag=version)
    except docker.errors.DockerException as exc:
        log.info("environment %s not in the registry: %s", tag, str(exc)[:200])
        return None
    if (image.labels or {}).get(LABEL_KEY) != key:
        return None  # not one of ours: never trust a name alone
    image.tag(tag.split(":")[0], tag.split(":")[1])
    return client.images.get(tag)


def _push(settings: Settings, client: Any, tag: str, key: str) -> None:
    import docker.errors

    remote = registry_tag(settings, tag)
    repository, _, version = remote.rpartition(":")
    try:
        client.images.get(tag).tag(repository, version)
        for chunk in client.api.push(repository, tag=version, stream=True, decode=True):
            if "error" in chunk:
                log.warning("pushing %s failed: %s", remote, chunk["error"])
                return
    except docker.errors.DockerException as exc:
        log.warning("pushing %s failed: %s", remote, exc)


def _evict(settings: Settings, client: Any, keep: str) -> None:
    try:
        removed = prune(settings, client, max_bytes=cap_bytes(settings), keep={keep})
    except Exception as exc:  # pruning is housekeeping: it must never fail a QA run
        log.warning("environment cache pruning failed: %s", exc)
        return
    if removed:
        log.info("evicted %d environment image(s): %s", len(removed), json.dumps([r["tag"] for r in removed]))


__all__ = ["SUITE_PYTHONS", "PreparedEnvironment", "prepare_environment"]
