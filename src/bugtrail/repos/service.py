"""Repository configuration rules: create-or-replace by prefix, lookup by id or prefix, and the effective
configuration QA uses (a registered one over the deprecated BUGTRAIL_RUNNER_IMAGE_MAP / TEST_COMMAND_MAP)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bugtrail.config import Settings
from bugtrail.errors import NotFound
from bugtrail.repos import repository as repo
from bugtrail.repos.schemas import RepoConfig, RepoConfigRead, RepoConfigSaved


def save(session: Session, config: RepoConfig, created_by: str | None) -> RepoConfigSaved:
    row, created = repo.upsert(session, config, created_by)
    return RepoConfigSaved(**repo.to_read(row).model_dump(), created=created)


def list_configs(session: Session) -> list[RepoConfigRead]:
    return [repo.to_read(row) for row in repo.list_rows(session)]


def _find(session: Session, ref: str) -> repo.RepoConfigRow:
    """`ref` is a numeric id or a url_prefix exactly as stored (a trailing slash does not matter)."""
    row = repo.get_by_id(session, int(ref)) if ref.isascii() and ref.isdigit() and len(ref) < 19 else None
    if row is None:
        stripped = ref.rstrip("/")
        row = repo.get_by_prefix(session, ref) or repo.get_by_prefix(session, stripped or ref)
    if row is None:
        raise NotFound(
            f"no repository configuration {ref!r}",
            detail={"hint": "use an id or url_prefix from `bugtrail repos list` (GET /api/repos)"},
        )
    return row


def get(session: Session, ref: str) -> RepoConfigRead:
    return repo.to_read(_find(session, ref))


def remove(session: Session, ref: str) -> RepoConfigRead:
    row = _find(session, ref)
    removed = repo.to_read(row)
    repo.delete_row(session, row)
    return removed


def legacy_config(settings: Settings, repo_url: str) -> RepoConfig | None:
    """The deprecated settings maps as a configuration (image and test command), with their old rule:
    `prefix=value` pairs, the longest string prefix of repo_url wins."""
    image = _lookup_map(settings.runner_image_map, repo_url)
    command = _lookup_map(settings.test_command_map, repo_url)
    if image is None and command is None:
        return None
    prefixes = [found[0] for found in (image, command) if found is not None]
    return RepoConfig.model_construct(
        url_prefix=max(prefixes, key=len),
        install_commands=[],
        python_version=None,
        test_command=command[1] if command else None,
        test_file_patterns=[],
        image=image[1] if image else None,
    )


def _lookup_map(mapping: dict[str, str], repo_url: str) -> tuple[str, str] | None:
    """The entry with the longest prefix of repo_url."""
    matching = [(prefix, value) for prefix, value in mapping.items() if repo_url.startswith(prefix)]
    return max(matching, key=lambda item: len(item[0]), default=None)


def effective_config(session: Session, settings: Settings, repo_url: str) -> RepoConfig | None:
    """The configuration QA applies to repo_url: the registered one (longest segment-wise prefix), each of its
    fields that is set overriding the deprecated settings maps; None when neither says anything."""
    registered = repo.find_config(session, repo_url)
    legacy = legacy_config(settings, repo_url)
    if registered is None or legacy is None:
        return registered or legacy
    merged = legacy.model_dump()
    merged.update({name: value for name, value in registered.model_dump().items() if value not in (None, [])})
    merged["url_prefix"] = registered.url_prefix
    return RepoConfig.model_construct(**merged)
