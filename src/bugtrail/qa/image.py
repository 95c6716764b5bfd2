"""Build the QA runner image without a registry: debootstrap a Debian rootfs, `docker import` it, build on it.

The debootstrap tarball is cached under the data dir, so a rebuild only re-runs the (layer-cached) Dockerfile.
The imported base image keeps a stable tag so service images can be built FROM it too.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bugtrail.config import Settings
from bugtrail.errors import BugtrailError, Unavailable
from bugtrail.qa.docker_api import docker_client

BASE_IMAGE_TAG = "bugtrail-debian-base:bookworm"
SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"

Report = Callable[[str], None]


@dataclass
class BuildResult:
    tag: str
    image_id: str
    base_image: str
    skipped: bool
    seconds: float
    steps: list[str]


def runner_dockerfile_dir() -> Path:
    """docker/runner/ of the source tree this package runs from (the Dockerfile is not package data)."""
    for root in (Path(__file__).resolve().parents[3], Path.cwd()):
        candidate = root / "docker" / "runner"
        if (candidate / "Dockerfile").is_file():
            return candidate
    raise BugtrailError("docker/runner/Dockerfile not found; run from the bugtrail source tree")


def detect_mirror(sources_dir: Path = Path("/etc/apt")) -> str:
    """The Debian mirror this host's apt uses (deb822 `URIs:` or one-line `deb` entries), minus security."""
    files = [sources_dir / "sources.list", *sorted((sources_dir / "sources.list.d").glob("*"))]
    for path in files:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        for match in re.finditer(r"^(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(\S+)", text, re.MULTILINE):
            uri = match.group(1).rstrip("/")
            if uri.endswith("/debian") and "security" not in uri:
                return uri
    return DEFAULT_MIRROR


def rootfs_cache_path(settings: Settings) -> Path:
    return settings.data_dir / "runner-cache" / f"debian-{SUITE}-minbase.tar"


def make_rootfs_tarball(target: Path, mirror: str, report: Report) -> None:
    """debootstrap --variant=minbase into a temp dir, trim apt caches, tar it (numeric owners) to `target`."""
    if shutil.which("debootstrap") is None:
        raise Unavailable("debootstrap is not installed (run scripts/setup-docker.sh)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bugtrail-rootfs-", dir=target.parent) as tmp:
        rootfs = Path(tmp) / "rootfs"
        command = ["debootstrap", "--variant=minbase", SUITE, str(rootfs), mirror]
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
        ) as proc:
            tail: list[str] = []
            assert proc.stdout is not None
            for line in proc.stdout:
                tail = [*tail[-19:], line.rstrip()]
                if line.startswith(("I:", "W:", "E:")):
                    report(f"debootstrap: {line[2:].strip()}")
        if proc.returncode != 0:
            raise BugtrailError("debootstrap failed", detail="\n".join(tail))
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists", "var/log"):
            for child in (rootfs / junk).glob("*"):
                if child.is_file():
                    child.unlink()
        partial = target.with_suffix(".partial")
        report("packing rootfs tarball")
        subprocess.run(
            ["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(partial), "."],
            check=True,
        )
        partial.replace(target)  # atomic: a crash never leaves a half tarball that looks cached


def build_runner_image(
    settings: Settings,
    tag: str | None = None,
    force: bool = False,
    extra_ca_bundle: Path | None = None,
    mirror: str | None = None,
    refresh_rootfs: bool = False,
    report: Report = lambda _msg: None,
) -> BuildResult:
    started = time.monotonic()
    tag = tag or settings.runner_image
    steps: list[str] = []
    client = docker_client(settings)
    try:
        if not force and _image_id(client, tag):
            return BuildResult(tag, _image_id(client, tag) or "", BASE_IMAGE_TAG, True, 0.0, ["image exists"])

        if force or not _image_id(client, BASE_IMAGE_TAG):
            tarball = rootfs_cache_path(settings)
            if refresh_rootfs or not tarball.is_file():
                report(f"debootstrap {SUITE} (cached afterwards at {tarball})")
                make_rootfs_tarball(tarball, mirror or detect_mirror(), report)
                steps.append("debootstrap")
            report(f"docker import -> {BASE_IMAGE_TAG}")
            repository, _, base_tag = BASE_IMAGE_TAG.partition(":")
            client.api.import_image_from_file(
                str(tarball),
                repository=repository,
                tag=base_tag,
                changes=[
                    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    'CMD ["/bin/bash"]',
                ],
            )
            steps.append("import")

        report(f"docker build -> {tag}")
        ca_bundle = extra_ca_bundle or settings.extra_ca_bundle
        context = _build_context(runner_dockerfile_dir(), ca_bundle)
        image_id = _docker_build(client, context, tag, nocache=force, report=report)
        steps.append("build")
        return BuildResult(tag, image_id, BASE_IMAGE_TAG, False, time.monotonic() - started, steps)
    finally:
        client.close()


def _image_id(client: object, name: str) -> str | None:
    import docker.errors

    try:
        return str(client.images.get(name).id)  # type: ignore[attr-defined]
    except docker.errors.ImageNotFound:
        return None


def _build_context(dockerfile_dir: Path, ca_bundle: Path | None) -> io.BytesIO:
    """The Dockerfile dir plus extra-ca.crt (empty when unused, so the COPY line is unconditional)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(dockerfile_dir.iterdir()):
            if path.is_file():
                tar.add(path, arcname=path.name)
        ca_bytes = ca_bundle.read_bytes() if ca_bundle else b""
        info = tarfile.TarInfo("extra-ca.crt")
        info.size = len(ca_bytes)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(ca_bytes))
    buffer.seek(0)
    return buffer


def _docker_build(client: object, context: io.BytesIO, tag: str, nocache: bool, report: Report) -> str:
    api = client.api  # type: ignore[attr-defined]
    # host network: the daemon has no bridge (dockerd --bridge=none); apt needs the host's route.
    stream = api.build(
        fileobj=context,
        custom_context=True,
        tag=tag,
        buildargs={"BASE_IMAGE": BASE_IMAGE_TAG},
        network_mode="host",
        rm=True,
        forcerm=True,
        nocache=nocache,
        decode=True,
    )
    image_id = ""
    tail: list[str] = []
    for chunk in stream:
        if "error" in chunk:
            detail = str(chunk.get("error", "")) + "\n" + "\n".join(tail)
            raise BugtrailError("runner image build failed", detail=detail)
        line = str(chunk.get("stream", "")).strip()
        if line:
            tail = [*tail[-29:], line]
            if line.startswith("Step "):
                report(f"build: {line}")
        aux = chunk.get("aux")
        if isinstance(aux, dict) and "ID" in aux:
            image_id = str(aux["ID"])
    return image_id
