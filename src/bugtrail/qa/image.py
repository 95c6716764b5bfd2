"""Build the QA runner image without a registry: debootstrap a Debian rootfs, `docker import` it, build on it.

The debootstrap tarball is cached under the data dir, so a rebuild only re-runs the (layer-cached) Dockerfile.
The imported base image keeps a stable tag so service images can be built FROM it too. One runner image per
Debian suite, because each suite ships another Python (bookworm, the default, is BUGTRAIL_RUNNER_IMAGE; the
others are tagged `<runner repository>:<suite>` and built on demand). The Dockerfile is package data.
"""

from __future__ import annotations

import hashlib
import io
import os
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

BASE_IMAGE_REPOSITORY = "bugtrail-debian-base"
SUITE = "bookworm"  # the default suite
BASE_IMAGE_TAG = f"{BASE_IMAGE_REPOSITORY}:{SUITE}"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# Debian suite -> the Python minor version it ships (python3).
SUITE_PYTHONS: dict[str, str] = {"bullseye": "3.9", "bookworm": "3.11", "trixie": "3.13"}
DOCKERFILES = Path(__file__).resolve().parent / "dockerfiles"
# The runner Dockerfile's hash, on the image: an image built from an older Dockerfile is rebuilt, not reused.
LABEL_DOCKERFILE = "bugtrail.runner.dockerfile"
HOST_CA_BUNDLES = (Path("/etc/ssl/certs/ca-certificates.crt"), Path("/etc/pki/tls/certs/ca-bundle.crt"))

Report = Callable[[str], None]


@dataclass
class BuildResult:
    tag: str
    image_id: str
    base_image: str
    skipped: bool
    seconds: float
    steps: list[str]


def dockerfile_text(name: str) -> str:
    """A Dockerfile shipped as package data (bugtrail/qa/dockerfiles/<name>)."""
    path = DOCKERFILES / name
    if not path.is_file():
        raise BugtrailError(f"{name} is missing from the installed package ({DOCKERFILES})")
    return path.read_text()


def base_image_tag(suite: str) -> str:
    return f"{BASE_IMAGE_REPOSITORY}:{suite}"


def runner_image_for_suite(settings: Settings, suite: str) -> str:
    """BUGTRAIL_RUNNER_IMAGE for the default suite, `<its repository>:<suite>` for the others."""
    if suite == SUITE:
        return settings.runner_image
    repository = (
        settings.runner_image.rsplit(":", 1)[0]
        if ":" in settings.runner_image.split("/")[-1]
        else (settings.runner_image)
    )
    return f"{repository}:{suite}"


def check_suite(suite: str) -> str:
    if suite not in SUITE_PYTHONS:
        raise BugtrailError(f"unknown Debian suite {suite!r}", detail=f"known: {', '.join(SUITE_PYTHONS)}")
    return suite


def host_ca_bundle(settings: Settings) -> Path | None:
    """The CA bundle builds must trust: BUGTRAIL_EXTRA_CA_BUNDLE, else the host's (pip's registry access may
    go through a proxy whose CA only the host bundle has)."""
    if settings.extra_ca_bundle:
        return settings.extra_ca_bundle
    for candidate in (os.environ.get("SSL_CERT_FILE"), *HOST_CA_BUNDLES):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


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


def rootfs_cache_path(settings: Settings, suite: str = SUITE) -> Path:
    return settings.data_dir / "runner-cache" / f"debian-{suite}-minbase.tar"


def make_rootfs_tarball(target: Path, mirror: str, report: Report, suite: str = SUITE) -> None:
    """debootstrap --variant=minbase into a temp dir, trim apt caches, tar it (numeric owners) to `target`."""
    if shutil.which("debootstrap") is None:
        raise Unavailable("debootstrap is not installed (run scripts/setup-docker.sh)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bugtrail-rootfs-", dir=target.parent) as tmp:
        rootfs = Path(tmp) / "rootfs"
        keyring = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
        options = [f"--keyring={keyring}"] if keyring.is_file() else []
        command = ["debootstrap", "--variant=minbase", *options, suite, str(rootfs), mirror]
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
    suite: str = SUITE,
) -> BuildResult:
    started = time.monotonic()
    check_suite(suite)
    tag = tag or runner_image_for_suite(settings, suite)
    base_tag = base_image_tag(suite)
    steps: list[str] = []
    client = docker_client(settings)
    try:
        dockerfile = dockerfile_text("runner.Dockerfile")
        fingerprint = hashlib.sha256(dockerfile.encode()).hexdigest()[:16]
        existing = _image_id(client, tag)
        if not force and existing and _label(client, tag, LABEL_DOCKERFILE) == fingerprint:
            return BuildResult(tag, existing, base_tag, True, 0.0, ["image exists"])
        if existing:
            report(f"{tag} was built from another Dockerfile; rebuilding")

        if force or not _image_id(client, base_tag):
            tarball = rootfs_cache_path(settings, suite)
            if refresh_rootfs or not tarball.is_file():
                report(f"debootstrap {suite} (cached afterwards at {tarball})")
                make_rootfs_tarball(tarball, mirror or detect_mirror(), report, suite)
                steps.append("debootstrap")
            report(f"docker import -> {base_tag}")
            client.api.import_image_from_file(
                str(tarball),
                repository=BASE_IMAGE_REPOSITORY,
                tag=suite,
                changes=[
                    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    'CMD ["/bin/bash"]',
                ],
            )
            steps.append("import")

        report(f"docker build -> {tag}")
        ca_bundle = extra_ca_bundle or host_ca_bundle(settings)
        context = _build_context(dockerfile, ca_bundle)
        labels = {LABEL_DOCKERFILE: fingerprint}
        image_id = _docker_build(client, context, tag, base_tag, nocache=force, report=report, labels=labels)
        steps.append("build")
        return BuildResult(tag, image_id, base_tag, False, time.monotonic() - started, steps)
    finally:
        client.close()


def _image_id(client: object, name: str) -> str | None:
    import docker.errors

    try:
        return str(client.images.get(name).id)  # type: ignore[attr-defined]
    except docker.errors.ImageNotFound:
        return None


def _label(client: object, name: str, label: str) -> str | None:
    import docker.errors

    try:
        labels = client.images.get(name).labels or {}  # type: ignore[attr-defined]
    except docker.errors.ImageNotFound:
        return None
    return labels.get(label)


def _build_context(dockerfile: str, ca_bundle: Path | None) -> io.BytesIO:
    """The Dockerfile plus extra-ca.crt (empty when unused, so the COPY line is unconditional)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        add_bytes(tar, "Dockerfile", dockerfile.encode())
        add_bytes(tar, "extra-ca.crt", ca_bundle.read_bytes() if ca_bundle else b"")
    buffer.seek(0)
    return buffer


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))


def _docker_build(
    client: object,
    context: io.BytesIO,
    tag: str,
    base_tag: str,
    nocache: bool,
    report: Report,
    labels: dict[str, str] | None = None,
) -> str:
    api = client.api  # type: ignore[attr-defined]
    # host network: the daemon has no bridge (dockerd --bridge=none); apt needs the host's route.
    stream = api.build(
        fileobj=context,
        custom_context=True,
        tag=tag,
        buildargs={"BASE_IMAGE": base_tag},
        network_mode="host",
        rm=True,
        forcerm=True,
        nocache=nocache,
        labels=labels or {},
        decode=True,
    )
    image_id = ""
    tail: list[str] = []
    for chunk in stream:
        if "error" in chunk:  # the tag is only set by a complete build
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


def python_minor(version: str | None) -> tuple[int, int] | None:
    """(3, 11) from "3.11", "3.11.7", "3.11.7+" or "CPython 3.11"; None when there is no such number."""
    match = re.search(r"(\d+)\.(\d+)", version or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def choose_suite(requested: str | None, requires_python: str | None = None) -> tuple[str, str | None]:
    """(suite, note): the suite shipping the requested minor version, else the nearest (ties: the newer);
    without a request, the default unless the project's requires-python excludes its Python."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    versions = {suite: python_minor(python) for suite, python in SUITE_PYTHONS.items()}
    wanted = python_minor(requested)
    if requested and wanted is None:
        return SUITE, f"Python version {requested!r} not understood; using {SUITE_PYTHONS[SUITE]} ({SUITE})"
    if wanted is not None:
        exact = [suite for suite, version in versions.items() if version == wanted]
        if exact:
            return exact[0], None

        def distance(suite: str) -> tuple[int, int]:
            version = versions[suite] or (0, 0)
            return (abs((version[0] * 100 + version[1]) - (wanted[0] * 100 + wanted[1])), -version[1])

        nearest = min(versions, key=distance)
        return nearest, (
            f"Python {wanted[0]}.{wanted[1]} was requested but no Debian suite ships it; "
            f"using {SUITE_PYTHONS[nearest]} ({nearest}), the nearest"
        )
    if requires_python:
        try:
            spec = SpecifierSet(requires_python)
        except InvalidSpecifier:
            return SUITE, None
        if spec.contains(SUITE_PYTHONS[SUITE] + ".0", prereleases=True):
            return SUITE, None
        fitting = [s for s in SUITE_PYTHONS if spec.contains(SUITE_PYTHONS[s] + ".0", prereleases=True)]
        if fitting:
            suite = fitting[-1]
            return suite, f"requires-python {requires_python!r} excludes {SUITE_PYTHONS[SUITE]}; using " + (
                f"{SUITE_PYTHONS[suite]} ({suite})"
            )
        return SUITE, f"no Debian suite's Python fits requires-python {requires_python!r}; using the default"
    return SUITE, None
