"""Consent and licence per developer: /api/developers/{developer_id}/consent (admin; a developer may read
their own) and /api/developers/consent (admin list)."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query, Response, status

from bugtrail.api.deps import AdminPrincipal, CurrentPrincipal, DbSession
from bugtrail.consent import service
from bugtrail.consent.schemas import ConsentRead, ConsentSet

router = APIRouter(prefix="/api", tags=["consent"])

# `:path` so a developer id with a slash (url-encoded) still routes; checked by the service.
DeveloperPath = Path(description="the developer id their API keys carry")


@router.get("/developers/consent", response_model=list[ConsentRead], summary="Every developer's consent")
def list_consents(
    session: DbSession,
    _admin: AdminPrincipal,
    external_only: bool = Query(False, description="only developers whose traces external exports include"),
) -> list[ConsentRead]:
    return service.list_consents(session, external_only)


@router.put(
    "/developers/{developer_id:path}/consent",
    response_model=ConsentRead,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": ConsentRead, "description": "the developer's record was replaced"}},
    summary="Record (or replace) a developer's licence and consent",
)
def put_consent(
    body: ConsentSet,
    session: DbSession,
    admin: AdminPrincipal,
    response: Response,
    developer_id: str = DeveloperPath,
) -> ConsentRead:
    saved, created = service.save(session, developer_id, body, admin.developer_id)
    if not created:
        response.status_code = status.HTTP_200_OK
    return saved


@router.get("/developers/{developer_id:path}/consent", response_model=ConsentRead)
def get_consent(
    session: DbSession, principal: CurrentPrincipal, developer_id: str = DeveloperPath
) -> ConsentRead:
    """An admin reads anyone's; a developer (or reviewer) only their own."""
    return service.get(session, principal, developer_id)


@router.delete("/developers/{developer_id:path}/consent", response_model=ConsentRead)
def delete_consent(
    session: DbSession, _admin: AdminPrincipal, developer_id: str = DeveloperPath
) -> ConsentRead:
    """Withdraw consent: the record is removed; later external exports leave the developer's traces out."""
    return service.remove(session, developer_id)
