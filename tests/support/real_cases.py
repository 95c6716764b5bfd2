"""Real public bug fixes kept as QA test cases: metadata only (repository, commits, files, test ids).

No code of these repositories is stored here. The tests rebuild each trace at test time from the fix commit
in a local mirror of the repository (`fetch github:<repo>` brings it to $BUGTRAIL_TEST_MIRROR_DIR, by default
/work/.mirror/<owner>+<name>/repo). Each case was verified on a host virtualenv (Python 3.11): at the base
commit with only the fix's test edit the fail-to-pass test fails, with the source edit too it passes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

MIRROR_ROOT = Path(os.environ.get("BUGTRAIL_TEST_MIRROR_DIR", "/work/.mirror"))


def file_url(path: Path) -> str:
    """file:// URL of an absolute path, unescaped: QA's allowlist refuses percent-escapes, and Path.as_uri()
    escapes the '+' of the mirrors' <owner>+<name> directories."""
    return f"file://{path.resolve()}"


@dataclass(frozen=True)
class RealCase:
    name: str
    repo: str  # owner/name on GitHub
    fix_commit: str
    base_commit: str  # the fix commit's parent
    test_files: tuple[str, ...]  # edited first (one edit event each), as the developer wrote the test first
    source_files: tuple[str, ...]  # then these, non-code files (changelogs) included
    test_command: str
    fail_to_pass: tuple[str, ...]
    developer_install: tuple[str, ...]  # `pip install` arguments of the developer's own virtualenv
    bug: str
    needs: str  # what the tests need, for the docs and failure messages
    # Tests that fail before AND after the fix with today's releases of the dependencies (neither
    # fail-to-pass nor pass-to-pass): the fix is resolved, but not every test passes.
    failing_both: tuple[str, ...] = ()

    @property
    def mirror(self) -> Path:
        owner, name = self.repo.split("/")
        return MIRROR_ROOT / f"{owner}+{name}" / "repo"

    @property
    def repo_url(self) -> str:
        return file_url(self.mirror)


CASES: tuple[RealCase, ...] = (
    RealCase(
        name="humanize",
        repo="python-humanize/humanize",
        fix_commit="a47a89ea9111a5eaba138c391e8a564134a15c60",
        base_commit="b172d67eac6a623db14020653cb311d29338d01f",
        test_files=("tests/test_time.py",),
        source_files=("src/humanize/time.py",),
        test_command="python -m pytest -q tests/test_time.py",
        fail_to_pass=("tests/test_time.py::test_naturaldate_tz_aware",),
        developer_install=("-e", ".[tests]"),
        bug="naturalday/naturaldate compare a tz-aware datetime with a naive date and crash",
        needs="src/ layout whose _version.py hatch-vcs generates at install; freezegun (extra `tests`); "
        "addopts --color=yes, filterwarnings=error",
    ),
    RealCase(
        name="arrow",
        repo="arrow-py/arrow",
        fix_commit="403c29fd48b1a5f306f6523b6c82faf0f78d22b2",
        base_commit="6321d81485566cfe5878834e01b5e17cbe4a815b",
        test_files=("tests/test_arrow.py",),
        source_files=("arrow/arrow.py",),
        test_command="python -m pytest -q tests/test_arrow.py",
        fail_to_pass=("tests/test_arrow.py::TestArrowShift::test_shift_without_imaginary_check",),
        developer_install=(
            "-e",
            ".",
            "pytest",
            "pytest-cov",
            "pytest-mock",
            "pytz==2021.1",
            "simplejson==3.*",
            "dateparser==1.*",
        ),
        failing_both=("tests/test_arrow.py::TestArrowConversion::test_anchorage_dst",),
        bug="shift() with imaginary=False still resolves imaginary local times",
        needs="tox.ini addopts demand pytest-cov (--cov... --cov-fail-under=99: a narrow run exits 1 with "
        "all tests passed; -v overrides -q); runtime dependency python-dateutil; pytz, simplejson, "
        "dateparser",
    ),
    RealCase(
        name="freezegun",
        repo="spulec/freezegun",
        fix_commit="10c93f2d6c98f82e54470b05144cd0f17d3e1b46",
        base_commit="d2e0a00addb0653b0cf3be65f8fa7137c7e3bda1",
        test_files=("tests/test_class_decorator.py",),
        source_files=("freezegun/api.py",),
        test_command="python -m pytest -q tests/test_class_decorator.py",
        fail_to_pass=(
            "tests/test_class_decorator.py::TestClassDecoratorWithFixture::test_with_yield_fixture",
        ),
        developer_install=("-e", ".", "pytest"),
        bug="freeze_time on a class breaks pytest yield fixtures of its methods",
        needs="runtime dependency python-dateutil (setup.py install_requires, requirements.txt)",
    ),
    RealCase(
        name="cachetools",
        repo="tkem/cachetools",
        fix_commit="57d2e4813d9801f97034559e22428bac6f7c6c9b",
        base_commit="8011b71949e8d8d81a71359cca9477d67a2c9c0b",
        test_files=("tests/test_cachedmethod.py",),
        source_files=("src/cachetools/_cachedmethod.py",),
        test_command="python -m pytest -q tests/test_cachedmethod.py",
        fail_to_pass=("tests/test_cachedmethod.py::AutospecTest::test_autospec_no_warnings",),
        developer_install=("-e", ".", "pytest"),
        bug="inspecting a @cachedmethod on the class (obj=None), as mock's autospec does, warns",
        needs="only pytest (src/ layout, setuptools)",
    ),
    RealCase(
        name="structlog",
        repo="hynek/structlog",
        fix_commit="c44431c544095e61163598372737c1c76a91790f",
        base_commit="99bd5a909079c7e8966c2be74db9149b4f17d54c",
        test_files=("tests/processors/test_renderers.py",),
        source_files=("CHANGELOG.md", "src/structlog/processors.py"),
        test_command="python -m pytest -q tests/processors/test_renderers.py",
        fail_to_pass=("tests/processors/test_renderers.py::TestMaybeTimeStamper::test_overwrite_custom_key",),
        developer_install=("-e", ".", "pytest", "pytest-asyncio", "time-machine", "pretend", "simplejson"),
        bug="MaybeTimeStamper overwrites an existing custom timestamp key",
        needs="PEP 735 dependency group `tests` (pytest-asyncio, time-machine, pretend, simplejson); "
        "--strict-config with asyncio_mode needs pytest-asyncio; hatch-vcs version, src/ layout",
    ),
    RealCase(
        name="pluggy",
        repo="pytest-dev/pluggy",
        fix_commit="20d8143f127a4d7526dbbea441857b4b80ec8bdd",
        base_commit="6e1d0f13a259776bbf137f90bd7ab8b4474f68e7",
        test_files=("testing/test_pluginmanager.py",),
        source_files=("changelog/431.bugfix.rst", "src/pluggy/_hooks.py", "src/pluggy/_manager.py"),
        test_command="python -m pytest -q testing/test_pluginmanager.py",
        fail_to_pass=("testing/test_pluginmanager.py::test_get_hookcallers_no_duplicates",),
        developer_install=("-e", ".", "pytest", "pytest-benchmark"),
        bug="get_hookcallers returns duplicates and _remove_plugin leaves hookimpls behind",
        needs="pytest >= 8 (minversion), PEP 735 group `testing` (pytest-benchmark); setuptools_scm, "
        "src/ layout",
    ),
)

# Repositories that declare their test dependencies only in Poetry, PDM, nox or Hatch terms: checked on the
# detected path (no environment submitted) only, which is where those declarations are read.
DECLARED_CASES: tuple[RealCase, ...] = (
    RealCase(
        name="cleo",
        repo="python-poetry/cleo",
        fix_commit="2891bb067f319d0c0c3f5f7934789b12f7d0787f",
        base_commit="1f7e94a55881e03c3d9ebf563134885c468f0988",
        test_files=(
            "tests/fixtures/foo3_command.py",
            "tests/fixtures/foo_sub_namespaced3_command.py",
            "tests/test_application.py",
        ),
        source_files=("cleo/application.py",),
        test_command="python -m pytest -q tests/test_application.py",
        fail_to_pass=("tests/test_application.py::test_run_with_input_and_non_interactive[cmd1]",),
        developer_install=("-e", ".", "pytest>=7.1.2,<8", "pytest-mock>=3.8.2,<4"),
        bug="running a namespaced command clears the input's `interactive` state",
        needs="Poetry project (poetry-core backend, no [project] table, no setup.py): only installing the "
        "checkout brings its runtime dependencies rapidfuzz and crashtest (`^2.2.0`, `^0.4.0`); "
        '[tool.poetry.dev-dependencies] `pytest = "^7.1.2"` (pytest 7), pytest-mock, tox 3',
    ),
    RealCase(
        name="packaging",
        repo="pypa/packaging",
        fix_commit="67c4a2820c549070bbfc4bfbf5e2a250075048da",
        base_commit="8b86d85797b9f26d98ecfbe0271ce4dc9495d98c",
        test_files=("tests/test_tags.py",),
        source_files=("packaging/tags.py",),
        test_command="python -m pytest -q tests/test_tags.py",
        fail_to_pass=("tests/test_tags.py::TestMacOSPlatforms::test_version_detection_compatibility",),
        developer_install=("-e", ".", "pretend", "pytest>=6.2.0"),
        bug="macOS platform tags are wrong when Python was built with an old SDK that reports 10.16",
        needs="pretend, only in noxfile.py's `session.install(...)` of session `tests`; runtime dependency "
        "pyparsing (setup.py); coverage<5 there has no wheel for today's Python",
    ),
    RealCase(
        name="cattrs",
        repo="python-attrs/cattrs",
        fix_commit="992b137223faf3890e9e0d4307f49045b1cf57b7",
        base_commit="d1b106abd1ed8b71f315835c7f3ece291b4682fe",
        test_files=("tests/test_validation.py",),
        source_files=("HISTORY.md", "src/cattrs/errors.py"),
        test_command="python -m pytest -q tests/test_validation.py",
        fail_to_pass=("tests/test_validation.py::test_notes_pickling",),
        developer_install=("-e", ".", "hypothesis", "pytest", "pytest-benchmark", "immutables"),
        bug="exceptions carrying validation notes cannot be unpickled (the notes override __new__)",
        needs="PDM `[tool.pdm.dev-dependencies] test` (hypothesis, imported by the conftest; "
        "pytest-benchmark, which the addopts `--benchmark-*` need); runtime dependency attrs; src/ layout",
    ),
    RealCase(
        name="pook",
        repo="h2non/pook",
        fix_commit="a15f6fba9f94d0ae627ffd1589db5688b0574ace",
        base_commit="c9f80a83f531904e70fa4669888d1bcb9eedfa96",
        test_files=("tests/unit/interceptors/urllib_test.py",),
        source_files=("src/pook/interceptors/http.py",),
        test_command="python -m pytest -q tests/unit/interceptors/urllib_test.py",
        fail_to_pass=(
            "tests/unit/interceptors/urllib_test.py::test_urllib_clear",
            "tests/unit/interceptors/urllib_test.py::test_urllib_ssl",
        ),
        developer_install=(
            "-e",
            ".",
            "pytest~=8.3",
            "pytest-asyncio~=1.3.0",
            "pytest-pook==0.1.0b0",
            "falcon~=4.0",
        ),
        bug="a mocked http.client response reports its HTTP version as a tuple instead of the int 11",
        needs="Hatch `[tool.hatch.envs.default] dependencies` only: falcon (the conftest's local responder), "
        "pytest-pook (the `pook` marker), pytest-asyncio (asyncio_mode), requests, urllib3, httpx, aiohttp; "
        "src/ layout, hatchling",
    ),
)

CASES_BY_NAME = {case.name: case for case in (*CASES, *DECLARED_CASES)}
