"""Allowed: FastAPI in a routes module."""

from fastapi import APIRouter

router = APIRouter()


@router.get("/api/traces/{trace_id}")
def get_trace(trace_id: str) -> dict[str, str]:
    return {"trace_id": trace_id}
