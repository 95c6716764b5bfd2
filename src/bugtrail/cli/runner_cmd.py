"""`bugtrail runner ...`: build the QA runner image, clean up orphaned QA containers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bugtrail.cli.common import subcommands

runner_app, register = subcommands("runner", "The Docker test runner used by QA.")


@runner_app.command("build-image")
def build_image(
    tag: Annotated[str | None, typer.Option(help="image tag (default: BUGTRAIL_RUNNER_IMAGE)")] = None,
    force: Annotated[bool, typer.Option("--force", help="rebuild even if the image exists")] = False,
    extra_ca_bundle: Annotated[
        Path | None, typer.Option(help="PEM bundle trusted inside the build (e.g. an HTTPS proxy's CA)")
    ] = None,
    mirror: Annotated[
        str | None, typer.Option(help="Debian mirror for debootstrap (default: from apt)")
    ] = None,
    refresh_rootfs: Annotated[
        bool, typer.Option("--refresh-rootfs", help="re-run debootstrap instead of using the cached rootfs")
    ] = False,
    suite: Annotated[
        str,
        typer.Option(help="Debian suite: bookworm (Python 3.11, default), bullseye (3.9), trixie (3.13)"),
    ] = "bookworm",
) -> None:
    """Build the runner image from a debootstrapped Debian rootfs (no registry needed).

    The default suite's image is BUGTRAIL_RUNNER_IMAGE; another suite's is tagged `<repository>:<suite>`.
    """
    from rich.console import Console

    from bugtrail.config import get_settings
    from bugtrail.errors import BugtrailError
    from bugtrail.qa.image import build_runner_image

    console = Console(stderr=True)
    settings = get_settings()
    try:
        with console.status("building runner image") as status:

            def report(message: str) -> None:
                status.update(message[:100])
                if not message.startswith("debootstrap: "):
                    console.print("  " + message.splitlines()[0][:100], highlight=False)

            result = build_runner_image(
                settings,
                tag=tag,
                force=force,
                extra_ca_bundle=extra_ca_bundle,
                mirror=mirror,
                refresh_rootfs=refresh_rootfs,
                report=report,
                suite=suite,
            )
    except BugtrailError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        if exc.detail:
            console.print(str(exc.detail))
        raise typer.Exit(1) from exc
    if result.skipped:
        console.print(f"{result.tag} already exists ({result.image_id[:19]}); --force rebuilds it")
    else:
        console.print(
            f"built {result.tag} ({result.image_id[:19]}) on {result.base_image} "
            f"in {result.seconds:.1f}s: {', '.join(result.steps)}"
        )


@runner_app.command("cleanup")
def cleanup() -> None:
    """Remove QA containers left behind by crashed workers (by label)."""
    from bugtrail.config import get_settings
    from bugtrail.qa.runner import remove_orphan_containers

    removed = remove_orphan_containers(get_settings())
    typer.echo(f"removed {removed} container(s)")
