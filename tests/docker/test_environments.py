"""Environment images against the real daemon and PyPI: detect, build, cache, run tests offline; bad input."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bugtrail.config import Settings
from bugtrail.qa.docker_api import docker_client
from bugtrail.qa.environments import PreparedEnvironment, prepare_environment
from bugtrail.qa.environments.cache import EnvCache, env_images, listing, prune
from bugtrail.repos.schemas import RepoConfig
from bugtrail.wire import RecordedEnvironment
from tests.support.env_repos import checkout_tree, cli_uses, plain_repo, run_tests, scm_repo, trace_for


@pytest.fixture
def client() -> Iterator[object]:
    client = docker_client()
    yield client
    client.close()


@pytest.fixture
def built_images(client: object) -> Iterator[list[str]]:
    """Tags a test made; removed afterwards so the shared daemon's disk does not fill up."""
    tags: list[str] = []
    yield tags
    for tag in tags:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, check=False)


def prepare(settings: Settings, repo: Path, commit: str, work: Path, **kwargs: object) -> PreparedEnvironment:
    trace = trace_for(repo, commit, kwargs.pop("environment", None))  # type: ignore[arg-type]
    mirror, tree = checkout_tree(settings, trace, work / "tree")
    config = kwargs.pop("config", None)
    return prepare_environment(settings, trace, config, tree, mirror, work / "logs")  # type: ignore[arg-type]


def test_detected_environment_is_built_cached_and_runs_offline(
    settings: Settings, repos_dir: Path, tmp_path: Path, client: object, built_images: list[str]
):
    repo = repos_dir / "envpkg"
    commit = scm_repo(repo)
    started = time.monotonic()
    first = prepare(settings, repo, commit, tmp_path / "first")
    cold_s = time.monotonic() - started
    built_images.append(first.image)
    assert first.error is None, first.info.build_log_tail
    info = first.info
    assert info.source == "detected" and info.cache_hit is False and first.image.startswith("bugtrail-env:")
    assert info.plan is not None and {"iniconfig>=2", "pytest-cov"} <= set(info.plan.packages)
    assert info.python_version and info.python_version.startswith("3.11.")
    assert (tmp_path / "first" / "logs" / "env" / "build.log").stat().st_size > 0
    assert (tmp_path / "first" / "logs" / "env" / "plan.json").is_file()

    # Tests run in the image with --network none against a fresh checkout mounted over /workspace/repo:
    # the generated _version.py is restored, iniconfig imports, --cov works.
    output = run_tests(settings, client, repo, commit, first.image, tmp_path / "scratch")
    assert "2 passed" in output and "TOTAL" in output

    started = time.monotonic()
    second = prepare(settings, repo, commit, tmp_path / "second")
    warm_s = time.monotonic() - started
    assert second.error is None and second.info.cache_hit is True and second.image == first.image
    assert second.info.python_version == info.python_version
    assert warm_s < cold_s / 3, (warm_s, cold_s)
    assert not (tmp_path / "second" / "logs" / "env" / "build.log").exists()

    rows = [row for row in listing(settings, client) if row["tag"] == first.image]
    assert rows and rows[0]["size_bytes"] > 0 and rows[0]["repo_url"] == f"file://{repo}"


def test_recorded_environment_pins_are_installed(
    settings: Settings, repos_dir: Path, tmp_path: Path, client: object, built_images: list[str]
):
    repo = repos_dir / "recorded"
    commit = plain_repo(repo, {"test_six.py": "import six\n\ndef test_six():\n    assert six.PY3\n"})
    environment = RecordedEnvironment(
        python_version="3.11.9", packages=["six==1.16.0", "-e /home/dev/recorded", "pip==24.0"], project=[]
    )
    prepared = prepare(settings, repo, commit, tmp_path / "w", environment=environment)
    built_images.append(prepared.image)
    assert prepared.error is None, prepared.info.build_log_tail
    assert prepared.info.source == "recorded"
    assert prepared.info.plan is not None and prepared.info.plan.packages == ["pytest", "six==1.16.0"]
    assert prepared.info.python_version_note and "3.11.9" in prepared.info.python_version_note
    output = run_tests(settings, client, repo, commit, prepared.image, tmp_path / "scratch")
    assert "2 passed" in output


def test_default_plan_uses_the_runner_image_without_a_build(
    settings: Settings, repos_dir: Path, tmp_path: Path
):
    repo = repos_dir / "plain"
    commit = plain_repo(repo)
    prepared = prepare(settings, repo, commit, tmp_path / "w")
    assert prepared.error is None and prepared.info.source == "default"
    assert prepared.image == settings.runner_image and prepared.info.cache_hit is None
    assert prepared.info.python_version and prepared.info.python_version.startswith("3.11.")


def test_failing_install_command_is_an_environment_error_with_the_log(
    settings: Settings, repos_dir: Path, tmp_path: Path, client: object
):
    repo = repos_dir / "failing"
    commit = plain_repo(repo)
    config = RepoConfig(url_prefix=f"file://{repo}", install_commands=["echo installing-now; exit 3"])
    prepared = prepare(settings, repo, commit, tmp_path / "w", config=config)
    assert prepared.error and "install failed (exit code 3)" in prepared.error
    assert prepared.info.source == "configured" and prepared.info.cache_hit is False
    assert "installing-now" in (prepared.info.build_log_tail or "")
    assert "installing-now" in (tmp_path / "w" / "logs" / "env" / "build.log").read_text()
    assert not any(prepared.image in image.tags for image in env_images(client))  # nothing cached


def test_requirement_that_does_not_exist_is_an_environment_error(
    settings: Settings, repos_dir: Path, tmp_path: Path
):
    repo = repos_dir / "missing-package"
    name = f"bugtrail-no-such-package-{uuid.uuid4().hex[:10]}"
    commit = plain_repo(repo, {"requirements-test.txt": f"{name}==1.0\n"})
    prepared = prepare(settings, repo, commit, tmp_path / "w")
    assert prepared.error is not None and prepared.info.source == "detected"
    tail = prepared.info.build_log_tail or ""
    assert name in tail and ("No matching distribution" in tail or "Could not find a version" in tail)


def test_old_pins_are_relaxed_once_and_the_result_says_so(
    settings: Settings, repos_dir: Path, tmp_path: Path, client: object, built_images: list[str]
):
    # iniconfig exists (pytest needs it), not in this version: the pinned set fails, the relaxed one installs.
    repo = repos_dir / "old-pins"
    commit = plain_repo(repo, {"requirements-test.txt": "iniconfig==99.0.0\n"})
    first = prepare(settings, repo, commit, tmp_path / "first")
    built_images.append(first.image)
    assert first.error is None, first.info.build_log_tail
    assert first.info.plan is not None and "iniconfig==99.0.0" in first.info.plan.packages
    assert any("version pins relaxed" in note for note in first.info.build_notes)
    second = prepare(settings, repo, commit, tmp_path / "second")
    assert second.info.cache_hit is True and second.info.build_notes == first.info.build_notes
    run_tests(settings, client, repo, commit, first.image, tmp_path / "scratch")


def test_a_pinned_pytest_too_old_for_the_python_is_upgraded(
    settings: Settings, repos_dir: Path, tmp_path: Path, client: object, built_images: list[str]
):
    # pytest 6.1.2 installs on Python 3.11 but errors collecting any test module there (so do 4.6 and 5.4).
    repo = repos_dir / "old-pytest"
    commit = plain_repo(repo, {"requirements-test.txt": "pytest==6.1.2\n"})
    prepared = prepare(settings, repo, commit, tmp_path / "w")
    built_images.append(prepared.image)
    assert prepared.error is None, prepared.info.build_log_tail
    assert any("pytest upgraded" in note for note in prepared.info.build_notes)
    output = run_tests(settings, client, repo, commit, prepared.image, tmp_path / "scratch")
    assert "1 passed" in output


def test_an_old_py_pin_that_breaks_pytest_is_upgraded_with_it(
    settings: Settings, repos_dir: Path, tmp_path: Path, client: object, built_images: list[str]
):
    # A 2017-style dev requirements file: py 1.4.12 installs, but today's pytest imports an installed py and
    # this one fails on Python 3.11, so pytest cannot start until py moves with it.
    repo = repos_dir / "old-py"
    commit = plain_repo(repo, {"requirements-test.txt": "py==1.4.12\n"})
    prepared = prepare(settings, repo, commit, tmp_path / "w")
    built_images.append(prepared.image)
    assert prepared.error is None, prepared.info.build_log_tail
    assert any(note.startswith("pytest upgraded (with: py)") for note in prepared.info.build_notes)
    output = run_tests(settings, client, repo, commit, prepared.image, tmp_path / "scratch")
    assert "1 passed" in output


def test_setup_py_writes_only_inside_the_build_container(
    settings: Settings, repos_dir: Path, tmp_path: Path, built_images: list[str]
):
    host_target = tmp_path / f"written-by-setup-py-{uuid.uuid4().hex}"
    repo = repos_dir / "hostile"
    setup_py = (
        "import pathlib\n"
        f"target = pathlib.Path({str(host_target)!r})\n"
        "target.parent.mkdir(parents=True, exist_ok=True)\n"
        "target.write_text('escaped')\n"
        "pathlib.Path('/workspace/../hostile-marker').write_text('x')\n"
        "from setuptools import setup\n"
        "setup(name='hostile', version='1.0', py_modules=[])\n"
    )
    commit = plain_repo(repo, {"setup.py": setup_py})
    prepared = prepare(settings, repo, commit, tmp_path / "w")
    built_images.append(prepared.image)
    assert prepared.error is None, prepared.info.build_log_tail
    assert not host_target.exists() and not Path("/hostile-marker").exists()
    inside = subprocess.run(
        ["docker", "run", "--rm", "--network=none", "--entrypoint=cat", prepared.image, str(host_target)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert inside.stdout == "escaped"  # it ran, and wrote into the build container's filesystem only


def test_a_hanging_setup_py_times_out_and_the_build_is_cancelled(
    settings: Settings, repos_dir: Path, tmp_path: Path
):
    repo = repos_dir / "hanging"
    commit = plain_repo(repo, {"setup.py": "import time\nprint('hanging', flush=True)\ntime.sleep(3600)\n"})
    fast = settings.model_copy(update={"env_build_timeout_s": 20.0})
    started = time.monotonic()
    prepared = prepare(fast, repo, commit, tmp_path / "w")
    assert time.monotonic() - started < 60
    assert prepared.error and "timed out after 20s" in prepared.error
    assert "timed out" in (tmp_path / "w" / "logs" / "env" / "build.log").read_text()
    # Closing the connection cancels the build and its container goes away (give the daemon a moment).
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _build_containers():
        time.sleep(2)
    assert _build_containers() == 0


def _build_containers() -> int:
    done = subprocess.run(
        ["docker", "ps", "--no-trunc", "--format", "{{.Command}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.count("/opt/bugtrail/env/install.sh")


def test_two_workers_preparing_the_same_environment_build_once(
    settings: Settings, repos_dir: Path, tmp_path: Path, built_images: list[str]
):
    repo = repos_dir / "concurrent"
    commit = plain_repo(repo, {"requirements-dev.txt": "iniconfig\n"})
    trace = trace_for(repo, commit)
    mirror, tree = checkout_tree(settings, trace, tmp_path / "tree")
    results: dict[int, PreparedEnvironment] = {}

    def work(index: int) -> None:
        results[index] = prepare_environment(settings, trace, None, tree, mirror, tmp_path / f"logs-{index}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    built_images.append(results[0].image)
    assert all(result.error is None for result in results.values())
    assert len({result.image for result in results.values()}) == 1
    assert sorted(result.info.cache_hit for result in results.values()) == [False, True, True]
    build_logs = [tmp_path / f"logs-{i}" / "env" / "build.log" for i in range(3)]
    assert sum(path.exists() for path in build_logs) == 1  # one build, the others waited and reused it


def test_full_cache_disk_leaves_nothing_half_cached(
    settings: Settings, repos_dir: Path, tmp_path: Path, client: object
):
    repo = repos_dir / "fulldisk"
    commit = plain_repo(repo)
    config = RepoConfig(url_prefix=f"file://{repo}", install_commands=["echo small"])
    index_dir = EnvCache(settings).index_dir
    index_dir.mkdir(parents=True)
    mounted = False
    try:
        mounted = _fill_index_dir(index_dir)
        prepared = prepare(settings, repo, commit, tmp_path / "w", config=config)
    finally:
        if mounted:
            subprocess.run(["umount", str(index_dir)], check=False)
    assert prepared.error and "could not be cached" in prepared.error
    assert "No space left on device" in prepared.error or "Permission denied" in prepared.error
    assert prepared.image.startswith("bugtrail-env:")
    assert not any(prepared.image in image.tags for image in env_images(client))
    assert EnvCache(settings).entries() == []


def _fill_index_dir(index_dir: Path) -> bool:
    """A full disk under the cache index: a tiny tmpfs filled up (root), or an unwritable dir (non-root)."""
    if os.getuid() != 0:
        index_dir.chmod(0o500)
        return False
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(index_dir)], check=True)
    try:
        with (index_dir / "filler").open("wb") as handle:
            while True:
                handle.write(b"\0" * 4096)
                handle.flush()
    except OSError:
        pass  # full
    return True


def test_prune_to_cap_removes_least_recently_used(
    settings: Settings, repos_dir: Path, tmp_path: Path, client: object, built_images: list[str]
):
    images = []
    for name in ("old", "new"):
        repo = repos_dir / f"prune-{name}"
        commit = plain_repo(repo)
        config = RepoConfig(url_prefix=f"file://{repo}", install_commands=[f"echo {name}"])
        prepared = prepare(settings, repo, commit, tmp_path / name, config=config)
        assert prepared.error is None, prepared.info.build_log_tail
        built_images.append(prepared.image)
        images.append(prepared.image)
    mine = [row for row in listing(settings, client) if row["tag"] in images]
    assert [row["tag"] for row in mine] == [images[1], images[0]]  # most recently used first
    everything = listing(settings, client)
    old_bytes = next(row["size_bytes"] for row in mine if row["tag"] == images[0])
    others = {row["key"] for row in everything if row["tag"] not in images}  # other tests' images stay
    cap = sum(row["size_bytes"] for row in everything) - old_bytes
    removed = prune(settings, client, max_bytes=cap, keep=others)
    assert [row["tag"] for row in removed] == [images[0]]
    remaining = {tag for image in env_images(client) for tag in image.tags}
    assert images[1] in remaining and images[0] not in remaining
    shutil.rmtree(tmp_path / "old", ignore_errors=True)


def test_cli_build_list_prune(settings: Settings, repos_dir: Path, monkeypatch: pytest.MonkeyPatch):
    from typer.testing import CliRunner

    from bugtrail.cli.app import app

    repo = repos_dir / "cli"
    commit = plain_repo(repo, {"requirements-test.txt": "iniconfig\n"})
    cli_uses(settings, monkeypatch)
    runner = CliRunner()
    url = f"file://{repo}"

    bad = runner.invoke(app, ["env", "build", url, "--commit", "nope"])
    assert bad.exit_code == 1 and "40-hex" in bad.output

    built = runner.invoke(app, ["env", "build", url, "--commit", commit])
    assert built.exit_code == 0, built.output
    assert "source: detected" in built.output and "built in" in built.output
    again = runner.invoke(app, ["env", "build", url, "--commit", commit])
    assert again.exit_code == 0 and "reused from the cache" in again.output

    listed = runner.invoke(app, ["env", "list"], env={"COLUMNS": "250"})
    assert listed.exit_code == 0 and url in listed.output

    pruned = runner.invoke(app, ["env", "prune", "--all", "--repo", url])
    assert pruned.exit_code == 0 and "removed 1 image(s)" in pruned.output, pruned.output
    listed = runner.invoke(app, ["env", "list"], env={"COLUMNS": "250"})
    assert url not in listed.output


@pytest.mark.slow
def test_recorded_python_313_gets_a_trixie_runner_built_on_demand(
    settings: Settings, repos_dir: Path, tmp_path: Path, client: object, built_images: list[str]
):
    """The one non-default suite tested (a cold debootstrap takes about two minutes; warm, seconds)."""
    repo = repos_dir / "py313"
    test = "import sys\n\n\ndef test_version():\n    assert sys.version_info[:2] == (3, 13)\n"
    commit = plain_repo(repo, {"test_version.py": test, "requirements-test.txt": "iniconfig\n"})
    environment = RecordedEnvironment(python_version="3.13.0", packages=["iniconfig==2.0.0"])
    prepared = prepare(settings, repo, commit, tmp_path / "w", environment=environment)
    built_images.append(prepared.image)
    assert prepared.error is None, prepared.info.build_log_tail
    info = prepared.info
    assert info.plan is not None and info.plan.base_image.endswith(":trixie")
    assert info.python_version and info.python_version.startswith("3.13.")
    assert info.python_version_requested == "3.13.0"
    output = run_tests(settings, client, repo, commit, prepared.image, tmp_path / "scratch")
    assert "2 passed" in output


def test_without_on_demand_suites_the_default_runner_is_used_and_noted(
    settings: Settings, repos_dir: Path, tmp_path: Path
):
    alias = f"bugtrail-runner-nosuites-{uuid.uuid4().hex[:8]}:latest"
    subprocess.run(["docker", "tag", settings.runner_image, alias], check=True)
    try:
        repo = repos_dir / "nosuites"
        commit = plain_repo(repo)
        off = settings.model_copy(update={"env_build_suites": False, "runner_image": alias})
        prepared = prepare(
            off, repo, commit, tmp_path / "w", environment=RecordedEnvironment(python_version="3.13.1")
        )
        assert prepared.error is None and prepared.image == alias
        assert prepared.info.python_version and prepared.info.python_version.startswith("3.11.")
        assert "BUGTRAIL_ENV_BUILD_SUITES is off" in (prepared.info.python_version_note or "")
    finally:
        subprocess.run(["docker", "rmi", alias], capture_output=True, check=False)


def test_missing_default_runner_image_is_an_infrastructure_error(
    settings: Settings, repos_dir: Path, tmp_path: Path
):
    from bugtrail.qa.errors import QaInfraError

    repo = repos_dir / "norunner"
    commit = plain_repo(repo)
    missing = settings.model_copy(
        update={"runner_image": f"bugtrail-runner-missing-{uuid.uuid4().hex[:8]}:x"}
    )
    with pytest.raises(QaInfraError, match="not found"):
        prepare(missing, repo, commit, tmp_path / "w")
