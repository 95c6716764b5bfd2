"""BUGTRAIL_IMAGE_REGISTRY: one worker machine builds and pushes, another pulls instead of building.

The registry is Debian's docker-registry on 127.0.0.1 (scripts/setup-docker.sh installs it); the daemon
treats 127.0.0.0/8 registries as insecure (plain HTTP) by default.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bugtrail.config import Settings
from bugtrail.qa.environments import prepare_environment
from tests.support.env_repos import checkout_tree, plain_repo, trace_for
from tests.support.server import free_port

REGISTRY_CONFIG = """version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.skip("Debian's docker-registry is not installed (run scripts/setup-docker.sh)")
    port = free_port()
    config = tmp_path / "registry.yml"
    config.write_text(REGISTRY_CONFIG.format(root=tmp_path / "registry-data", port=port))
    log = (tmp_path / "registry.log").open("w")
    proc = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://{address}/v2/", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError((tmp_path / "registry.log").read_text()) from None
                time.sleep(0.2)
        yield address
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def test_second_machine_pulls_from_the_registry_instead_of_building(
    settings: Settings, registry: str, repos_dir: Path, tmp_path: Path
):
    repo = repos_dir / "shared"
    # A pin that does not exist: the relaxed retry installs iniconfig, and the build says so in a note.
    commit = plain_repo(repo, {"requirements-test.txt": "iniconfig==0.0.0.1\n"})
    trace = trace_for(repo, commit)
    machine_a = settings.model_copy(update={"image_registry": registry, "data_dir": tmp_path / "a"})
    machine_b = settings.model_copy(update={"image_registry": registry, "data_dir": tmp_path / "b"})
    mirror, tree = checkout_tree(machine_a, trace, tmp_path / "tree-a")
    built = prepare_environment(machine_a, trace, None, tree, mirror, tmp_path / "logs-a")
    remote = f"{registry}/{built.image}"
    try:
        assert built.error is None and built.info.cache_hit is False, built.info.build_log_tail
        with urllib.request.urlopen(f"http://{registry}/v2/bugtrail-env/tags/list", timeout=10) as response:
            assert built.image.split(":")[1] in response.read().decode()

        # Machine B has never seen the image: drop every local name for it, so only a pull can bring it back.
        subprocess.run(["docker", "rmi", "-f", built.image, remote], capture_output=True, check=True)
        mirror_b, tree_b = checkout_tree(machine_b, trace, tmp_path / "tree-b")
        pulled = prepare_environment(machine_b, trace, None, tree_b, mirror_b, tmp_path / "logs-b")
        assert pulled.error is None and pulled.info.cache_hit is True
        assert pulled.image == built.image and pulled.info.image_digest == built.info.image_digest
        assert not (tmp_path / "logs-b" / "env" / "build.log").exists()
        # What the build found travels with the image (a label), not only in machine A's cache index.
        assert any("version pins relaxed" in note for note in built.info.build_notes), built.info.build_notes
        assert pulled.info.build_notes == built.info.build_notes
        assert pulled.info.python_version == built.info.python_version
        assert pulled.info.build_s == built.info.build_s
    finally:
        subprocess.run(["docker", "rmi", "-f", built.image, remote], capture_output=True, check=False)
