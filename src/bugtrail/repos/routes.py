"""Admin routes for per-repository QA configuration: /api/repos (create or replace, list, show, delete)."""

from __future__ import annotations

from fastapi import APIRouter, Path, Response, status

from bugtrail.api.deps import AdminPrincipal, DbSession
from bugtrail.repos import service
from bugtrail.repos.schemas import RepoConfig, RepoConfigRead, RepoConfigSaved

router = APIRouter(prefix="/api", tags=["repos"])

# `{ref:path}`: a url-encoded prefix arrives decoded, slashes and all (https%3A%2F%2Fh%2Forg -> https://h/org).
RefPath = Path(description="numeric id, or the url_prefix (url-encoded)")


@router.post(
    "/repos",
    response_model=RepoConfigSaved,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": RepoConfigSaved, "description": "the prefix's configuration was replaced"}},
)
def save_repo(
    body: RepoConfig, session: DbSession, admin: AdminPrincipal, response: Response
) -> RepoConfigSaved:
    saved = service.save(session, body, admin.developer_id)
    if not saved.created:
        response.status_code = status.HTTP_200_OK
    return saved


@router.get("/repos", response_model=list[RepoConfigRead])
def list_repos(session: DbSession, _admin: AdminPrincipal) -> list[RepoConfigRead]:
    return service.list_configs(session)


@router.get("/repos/{ref:path}", response_model=RepoConfigRead)
def show_repo(session: DbSession, _admin: AdminPrincipal, ref: str = RefPath) -> RepoConfigRead:
    return service.get(session, ref)


@router.delete("/repos/{ref:path}", response_model=RepoConfigRead)
def delete_repo(session: DbSession, _admin: AdminPrincipal, ref: str = RefPath) -> RepoConfigRead:
    return service.remove(session, ref)
