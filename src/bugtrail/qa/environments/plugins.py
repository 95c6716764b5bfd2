"""pytest plugins a repository's pytest configuration implies (a missing one stops pytest with a usage error).

Only the first configuration file pytest itself would use is read (pytest.ini, pyproject.toml, tox.ini,
setup.cfg, in pytest's order), so a stale section elsewhere adds nothing.
"""

from __future__ import annotations

import configparser
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Option families: an addopts token equal to the option, or it followed by `=` or `-...`, needs the plugin.
OPTION_PLUGINS: tuple[tuple[str, str], ...] = (
    ("--cov", "pytest-cov"),
    ("--no-cov", "pytest-cov"),
    ("--benchmark", "pytest-benchmark"),
    ("--numprocesses", "pytest-xdist"),
    ("--maxprocesses", "pytest-xdist"),
    ("--dist", "pytest-xdist"),
    ("--looponfail", "pytest-xdist"),
    ("--timeout", "pytest-timeout"),
    ("--reruns", "pytest-rerunfailures"),
    ("--only-rerun", "pytest-rerunfailures"),
    ("--hypothesis", "hypothesis"),
    ("--randomly", "pytest-randomly"),
    ("--html", "pytest-html"),
    ("--self-contained-html", "pytest-html"),
    ("--snapshot-update", "syrupy"),
    ("--snapshot-warn-unused", "syrupy"),
    ("--mypy", "pytest-mypy"),
    ("--flake8", "pytest-flake8"),
    ("--pylint", "pytest-pylint"),
    ("--black", "pytest-black"),
    ("--isort", "pytest-isort"),
    ("--ruff", "pytest-ruff"),
    ("--asyncio-mode", "pytest-asyncio"),
    ("--ds", "pytest-django"),
    ("--reuse-db", "pytest-django"),
    ("--nomigrations", "pytest-django"),
    ("--create-db", "pytest-django"),
    ("--json-report", "pytest-json-report"),
    ("--instafail", "pytest-instafail"),
    ("--forked", "pytest-forked"),
    ("--memray", "pytest-memray"),
    ("--codspeed", "pytest-codspeed"),
    ("--disable-socket", "pytest-socket"),
    ("--allow-hosts", "pytest-socket"),
    ("--mpl", "pytest-mpl"),
    ("--nbval", "nbval"),
    ("--typeguard-packages", "typeguard"),
    ("--doctest-plus", "pytest-doctestplus"),
    ("--remote-data", "pytest-remotedata"),
)
# ini keys that only a plugin defines (pytest warns or, with --strict-config, stops on unknown keys).
INI_PLUGINS: dict[str, str] = {
    "asyncio_mode": "pytest-asyncio",
    "asyncio_default_fixture_loop_scope": "pytest-asyncio",
    "timeout": "pytest-timeout",
    "timeout_method": "pytest-timeout",
    "env": "pytest-env",
    "django_settings_module": "pytest-django",
    "django_find_project": "pytest-django",
    "mock_use_standalone_module": "pytest-mock",
    "trio_mode": "pytest-trio",
    "qt_api": "pytest-qt",
    "bdd_features_base_dir": "pytest-bdd",
    "looponfailroots": "pytest-xdist",
    "flake8-max-line-length": "pytest-flake8",
    "doctest_plus": "pytest-doctestplus",
    "mpl-baseline-path": "pytest-mpl",
}
# `-p NAME` module names that are not simply pytest_<dist>.
P_PLUGINS: dict[str, str] = {
    "xdist": "pytest-xdist",
    "xdist.plugin": "pytest-xdist",
    "randomly": "pytest-randomly",
    "anyio": "anyio",
    "pytest_cov": "pytest-cov",
    "hypothesis": "hypothesis",
    "hypothesis.extra.pytestplugin": "hypothesis",
    "trio": "pytest-trio",
    "syrupy": "syrupy",
    "rerunfailures": "pytest-rerunfailures",
    "benchmark": "pytest-benchmark",
}
BUILTIN_P = {"pytester", "no", "doctest", "faulthandler", "cacheprovider", "lsof"}


@dataclass
class PluginFinding:
    config_file: str | None = None
    plugins: dict[str, str] = field(default_factory=dict)  # requirement -> why
    notes: list[str] = field(default_factory=list)


def find_pytest_config(tree: Path) -> tuple[str | None, dict[str, Any]]:
    """(file name, ini options) of the configuration pytest would pick in the tree's root."""
    ini = tree / "pytest.ini"
    if ini.is_file():
        return "pytest.ini", _ini_section(ini, "pytest")
    pyproject = tree / "pyproject.toml"
    if pyproject.is_file():
        try:
            tool = tomllib.loads(pyproject.read_text(errors="replace")).get("tool", {})
        except tomllib.TOMLDecodeError:
            tool = {}
        pytest_table = tool.get("pytest") if isinstance(tool, dict) else None
        if isinstance(pytest_table, dict):
            options = pytest_table.get("ini_options")
            if isinstance(options, dict):
                return "pyproject.toml", options
            if pytest_table:  # pytest 9's native [tool.pytest] table
                return "pyproject.toml", pytest_table
    for name, section in (("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
        path = tree / name
        if path.is_file():
            options = _ini_section(path, section)
            if options:
                return name, options
    return None, {}


def _ini_section(path: Path, section: str) -> dict[str, Any]:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(path.read_text(errors="replace"))
    except configparser.Error:
        return {}
    return dict(parser[section]) if parser.has_section(section) else {}


def addopts_tokens(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    try:
        return shlex.split(str(value or ""))
    except ValueError:
        return str(value or "").split()


def implied_plugins(tree: Path) -> PluginFinding:
    config_file, options = find_pytest_config(tree)
    finding = PluginFinding(config_file=config_file)
    if config_file is None:
        return finding
    tokens = addopts_tokens(options.get("addopts"))
    for index, token in enumerate(tokens):
        plugin = plugin_for_option(token)
        if plugin:
            finding.plugins.setdefault(plugin, f"{config_file} addopts {token!r}")
        module = None
        if token == "-p" and index + 1 < len(tokens):
            module = tokens[index + 1]
        elif token.startswith("-p") and len(token) > 2 and not token.startswith("--"):
            module = token[2:]
        if module:
            plugin = plugin_for_module(tree, module)
            if plugin:
                finding.plugins.setdefault(plugin, f"{config_file} addopts '-p {module}'")
    for key in options:
        plugin = INI_PLUGINS.get(key.lower())
        if plugin:
            finding.plugins.setdefault(plugin, f"{config_file} option {key!r}")
    required = options.get("required_plugins")
    for requirement in required if isinstance(required, list) else str(required or "").split():
        finding.plugins.setdefault(str(requirement), f"{config_file} required_plugins")
    return finding


def plugin_for_option(token: str) -> str | None:
    if re.fullmatch(r"-n=?(\d+|auto|logical)?", token):
        return "pytest-xdist"
    for option, plugin in OPTION_PLUGINS:
        if token == option or token.startswith((option + "=", option + "-")):
            return plugin
    return None


def plugin_for_module(tree: Path, module: str) -> str | None:
    """The distribution behind `-p module`, or None for builtins, `no:` and the repository's own modules."""
    if module.startswith("no:") or module in BUILTIN_P:
        return None
    if module in P_PLUGINS:
        return P_PLUGINS[module]
    top = module.split(".")[0]
    local = [tree / f"{top}.py", tree / top, tree / "src" / top, tree / "tests" / f"{top}.py"]
    if any(path.exists() for path in local):
        return None
    if top.startswith("pytest_"):
        return top.replace("_", "-")
    return None
