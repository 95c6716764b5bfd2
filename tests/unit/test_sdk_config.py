from __future__ import annotations

import stat
from pathlib import Path

from bugtrail.sdk.config import DEFAULT_SERVER, config_path, load_config, read_config_file, save_config


def test_precedence_arguments_then_environment_then_file(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    assert load_config(env=env).server == DEFAULT_SERVER and load_config(env=env).api_key is None
    save_config("http://file:1", 'key"with\\quotes', config_path(env))
    from_file = load_config(env=env)
    assert (from_file.server, from_file.api_key) == ("http://file:1", 'key"with\\quotes')
    env.update(BUGTRAIL_SERVER="http://env:2", BUGTRAIL_API_KEY="envkey")
    assert (load_config(env=env).server, load_config(env=env).api_key) == ("http://env:2", "envkey")
    explicit = load_config(server="http://arg:3", api_key="argkey", env=env)
    assert (explicit.server, explicit.api_key) == ("http://arg:3", "argkey")


def test_config_file_respects_xdg_and_is_private(tmp_path: Path) -> None:
    path = config_path({"XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    assert path == tmp_path / "xdg" / "bugtrail" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text("old")
    path.chmod(0o644)
    save_config("https://bugtrail.example.org", "btk_secret", path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_config_file(path) == {"server": "https://bugtrail.example.org", "api_key": "btk_secret"}
