"""Client-side configuration: server URL and API key from flags, env, or ~/.config/bugtrail/config.toml.

Kept separate from bugtrail.config (the server's Settings) so the recorder never imports pydantic-settings.
Precedence: explicit arguments > BUGTRAIL_SERVER / BUGTRAIL_API_KEY > the config file > defaults.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SERVER = "http://127.0.0.1:8000"


def config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "bugtrail" / "config.toml"


def state_home(env: Mapping[str, str] | None = None) -> Path:
    """Where a spool lives when the SDK is used outside a git work tree."""
    env = os.environ if env is None else env
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "bugtrail"


@dataclass(frozen=True)
class ClientConfig:
    server: str = DEFAULT_SERVER
    api_key: str | None = None
    source: str = "defaults"  # where the values came from, shown by `bugtrail status`

    @property
    def base_url(self) -> str:
        return self.server.rstrip("/")


def read_config_file(path: Path | None = None) -> dict[str, str]:
    path = path or config_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    import tomllib  # only when a file exists: keeps the common start-up path lean

    data = tomllib.loads(raw.decode("utf-8"))
    return {key: str(value) for key, value in data.items() if isinstance(value, str)}


def load_config(
    server: str | None = None, api_key: str | None = None, env: Mapping[str, str] | None = None
) -> ClientConfig:
    env = os.environ if env is None else env
    file_values = read_config_file(config_path(env))
    sources = []
    resolved_server = server or env.get("BUGTRAIL_SERVER") or file_values.get("server")
    resolved_key = api_key or env.get("BUGTRAIL_API_KEY") or file_values.get("api_key")
    if server or api_key:
        sources.append("arguments")
    if env.get("BUGTRAIL_SERVER") or env.get("BUGTRAIL_API_KEY"):
        sources.append("environment")
    if file_values:
        sources.append(str(config_path(env)))
    return ClientConfig(
        server=resolved_server or DEFAULT_SERVER,
        api_key=resolved_key or None,
        source=", ".join(sources) or "defaults",
    )


def _toml_string(value: str) -> str:
    # A JSON string without non-ASCII escapes is a valid TOML basic string.
    return json.dumps(value, ensure_ascii=True)


def save_config(server: str, api_key: str, path: Path | None = None) -> Path:
    """Write the config file with mode 0600 (it holds a secret), atomically."""
    path = path or config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".toml.tmp")
    text = f"server = {_toml_string(server)}\napi_key = {_toml_string(api_key)}\n"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # O_CREAT's mode does not apply when the file already existed
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return path
