"""The inferred tier of the environment plan: which sources get it, the cache key, the install step."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bugtrail.config import Settings
from bugtrail.qa.environments.build import INFERRED_MARKER, inferred_report, install_script
from bugtrail.qa.environments.cache import CacheEntry, EnvCache, cache_key
from bugtrail.qa.environments.plan import make_plan
from bugtrail.qa.environments.schemas import EnvironmentInfo, InferredPackage
from bugtrail.qa.image import DOCKERFILES
from bugtrail.repos.schemas import RepoConfig
from bugtrail.wire import EventRead, RecordedEnvironment, TraceRead
from tests.support.env_repos import trace_for
from tests.support.repos import write_files

TEST_FILE = "import yaml\nimport six\nimport mypkg\n\ndef test_x(mocker):\n    assert mocker\n"


def trace(environment: RecordedEnvironment | None = None) -> TraceRead:
    return trace_for(Path("/nowhere/mypkg"), "a" * 40, environment)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")  # inference on for the detected and default sources


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Declares six (test extra) but not PyYAML nor pytest-mock, which its test needs."""
    files = {
        "src/mypkg/__init__.py": "",
        "tests/test_x.py": TEST_FILE,
        "pyproject.toml": '[project]\nname = "mypkg"\n[project.optional-dependencies]\ntest = ["six>=1"]\n',
    }
    write_files(tmp_path / "tree", dict(files))
    return tmp_path / "tree"


def distributions(packages: list[InferredPackage]) -> list[str]:
    return [p.distribution for p in packages]


def test_detected_plan_infers_what_is_not_declared(settings: Settings, project: Path):
    choice = make_plan(settings, trace(), None, project, "python -m pytest -q tests/test_x.py")
    plan = choice.plan
    assert plan.source == "detected"
    assert distributions(plan.inferred) == ["pytest-mock", "PyYAML"]  # six is declared, mypkg is its own
    assert "six>=1" in plan.packages and "PyYAML" not in plan.packages  # kept apart from declared ones
    assert "inferred PyYAML (yaml): imported by tests/test_x.py" in plan.notes
    assert "inferred pytest-mock (pytest_mock): fixture 'mocker' in tests/test_x.py" in plan.notes


def test_default_plan_with_inferred_packages_needs_a_build(settings: Settings, tmp_path: Path):
    (tmp_path / "test_plain.py").write_text("import iniconfig\n\ndef test_x():\n    pass\n")
    choice = make_plan(settings, trace(), None, tmp_path, None)
    assert choice.plan.source == "default" and choice.needs_build
    assert choice.plan.packages == ["pytest"] and not choice.plan.install_project
    assert distributions(choice.plan.inferred) == ["iniconfig"]


def test_recorded_and_configured_plans_are_not_inferred_by_default(settings: Settings, project: Path):
    recorded = RecordedEnvironment(python_version="3.11.7", packages=["six==1.16.0"])
    assert make_plan(settings, trace(recorded), None, project, "pytest tests").plan.inferred == []
    config = RepoConfig(url_prefix="https://github.com/example/", install_commands=["pip install ."])
    assert make_plan(settings, trace(), config, project, "pytest tests").plan.inferred == []
    opted_in = settings.model_copy(update={"env_infer_sources": ["configured"]})
    configured = make_plan(opted_in, trace(), config, project, "pytest tests").plan
    assert configured.source == "configured" and distributions(configured.inferred) == [
        "pytest-mock",
        "PyYAML",
        "six",
    ]
    off = settings.model_copy(update={"env_infer_sources": []})
    assert make_plan(off, trace(), None, project, "pytest tests").plan.inferred == []


def test_cache_key_includes_inferred_but_not_why(settings: Settings, project: Path):
    plan = make_plan(settings, trace(), None, project, "pytest tests").plan
    key = cache_key(plan, "sha256:base", project, [])
    reworded = [p.model_copy(update={"why": "elsewhere"}) for p in plan.inferred]
    assert key == cache_key(plan.model_copy(update={"inferred": reworded}), "sha256:base", project, [])
    assert key != cache_key(plan.model_copy(update={"inferred": reworded[:1]}), "sha256:base", project, [])
    bare = plan.model_copy(update={"inferred": []})
    legacy = {k: v for k, v in bare.model_dump(mode="json").items() if k != "inferred"}
    assert cache_key(bare, "sha256:base", project, []) == cache_key(
        type(plan).model_validate(legacy), "sha256:base", project, []
    )


def test_install_script_runs_the_inferred_step_last(settings: Settings, project: Path):
    plan = make_plan(settings, trace(), None, project, "pytest tests").plan
    script = install_script(plan)
    step = "python /opt/bugtrail/env/install_inferred.py /opt/bugtrail/env/inferred.json"
    assert script.index("pip install -r") < script.index("pip install -e") < script.index(step)
    assert step not in install_script(plan.model_copy(update={"inferred": []}))


def test_install_inferred_script_skips_importable_and_invalid_names(tmp_path: Path):
    entries = [
        {"module": "json", "distribution": "json"},  # importable already: never installed
        {"module": "pytest", "distribution": "pytest"},
        {"module": "bad name", "distribution": "x; rm -rf /"},
        {"module": "ok", "distribution": "--index-url=http://evil"},
    ]
    listing = tmp_path / "inferred.json"
    listing.write_text(json.dumps(entries))
    done = subprocess.run(
        [sys.executable, str(DOCKERFILES / "install_inferred.py"), str(listing)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    marker = done.stdout.strip().splitlines()[-1]
    assert marker.startswith(INFERRED_MARKER)
    assert inferred_report(marker[len(INFERRED_MARKER) :]) == {
        "installed": [],
        "present": ["json", "pytest"],
        "failed": ["x; rm -rf /", "--index-url=http://evil"],
    }
    assert "is not a valid name" in done.stdout


def test_inferred_report_is_checked_and_kept_in_the_cache_index(settings: Settings):
    assert inferred_report("not json") is None and inferred_report("[1]") is None
    assert inferred_report('{"installed": ["a", 3], "failed": "x"}') == {"installed": ["a"], "present": []}
    entry = CacheEntry("k" * 64, "bugtrail-env:k", "sha256:x", "u", "detected", None, 1, 0.0, 0.0)
    entry.inferred = {"installed": ["six"], "present": [], "failed": ["nosuch"]}
    cache = EnvCache(settings)
    cache.record(entry)
    assert cache.get(entry.key) == entry
    older = EnvironmentInfo.model_validate({"source": "detected", "image": "x"})  # a stored older result
    assert older.inferred_installed == [] and older.plan is None


def test_the_trace_edits_count_for_the_plan(settings: Settings, project: Path):
    edit = EventRead(
        event_id=uuid.uuid4(),
        seq=1,
        type="edit",
        timestamp=datetime.now(UTC),
        details={"file": "tests/test_x.py", "diff": "@@ -1 +1,2 @@\n import yaml\n+import hypothesis\n"},
    )
    with_edit = trace().model_copy(update={"events": [edit]})
    plan = make_plan(settings, with_edit, None, project, "pytest tests/test_x.py").plan
    assert distributions(plan.inferred) == ["hypothesis", "pytest-mock", "PyYAML"]
    assert "inferred hypothesis (hypothesis): imported by tests/test_x.py (edited)" in plan.notes


def test_a_failing_inference_costs_the_tier_not_the_plan(
    settings: Settings, project: Path, monkeypatch: pytest.MonkeyPatch
):
    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("bug")

    monkeypatch.setattr("bugtrail.qa.environments.plan.infer_needs", broken)
    plan = make_plan(settings, trace(), None, project, "pytest tests").plan
    assert plan.source == "detected" and plan.inferred == []
    assert "inference failed (ValueError); nothing inferred" in plan.notes
