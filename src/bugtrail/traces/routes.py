"""HTTP routes for traces; thin: parse, call the service, shape the response."""

from __future__ import annotations

import email.message
import json
import uuid
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, TypeAdapter, ValidationError

from bugtrail.api.deps import (
    AppSettings,
    Batch,
    CurrentPrincipal,
    DbSession,
    EarlyPrincipal,
    get_database,
    run_prepare,
    run_write,
)
from bugtrail.auth.keys import Principal
from bugtrail.config import Settings
from bugtrail.errors import BadRequest
from bugtrail.traces import flows, service
from bugtrail.traces import repository as repo
from bugtrail.traces.events import PreparedEvent
from bugtrail.wire import (
    TRACE_STATUSES,
    AppendResult,
    EventBatch,
    EventIn,
    FinalizeResult,
    TraceCreate,
    TraceCreated,
    TraceList,
    TraceRead,
)

router = APIRouter(prefix="/api", tags=["traces"])

TERMINAL = flows.TERMINAL


_CREATE_BODY_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TraceCreate"}}},
    }
}
# Models only named in openapi_extra (the routes read their own bodies): api/app.py adds their schemas.
OPENAPI_MODELS: tuple[type, ...] = (TraceCreate,)
_TRACE_CREATE: TypeAdapter[TraceCreate] = TypeAdapter(TraceCreate)


def _json_body(raw: bytes, content_type: str | None) -> Any:
    """The request body as JSON, with the errors FastAPI gives for a declared body parameter."""
    if not raw:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        )
    if content_type:
        message = email.message.Message()
        message["content-type"] = content_type
        subtype = message.get_content_subtype()
        if message.get_content_maintype() != "application" or not (
            subtype == "json" or subtype.endswith("+json")
        ):
            raise RequestValidationError(
                [
                    {
                        "type": "json_type",
                        "loc": ("body",),
                        "msg": "the body must be JSON (application/json)",
                        "input": None,
                    }
                ]
            )
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass  # orjson refuses what json accepts (lone surrogates, NaN, huge integers): the exact path
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", exc.pos),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": exc.msg},
                }
            ]
        ) from exc
    except RecursionError as exc:
        raise BadRequest("the JSON body is nested too deeply") from exc
    except UnicodeDecodeError as exc:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body", exc.start), "msg": "JSON decode error", "input": {}}]
        ) from exc


def _validation_error(exc: ValidationError) -> RequestValidationError:
    return RequestValidationError(
        [{**err, "loc": ("body", *err["loc"])} for err in exc.errors(include_url=False)]
    )


def _prepare_create(
    raw: bytes, content_type: str | None, settings: Settings, principal: Principal
) -> service.PreparedTrace:
    try:
        payload = _TRACE_CREATE.validate_python(_json_body(raw, content_type))
    except ValidationError as exc:
        raise _validation_error(exc) from exc
    return service.prepare_trace(settings, principal, payload)


def _prepare_append(raw: bytes, content_type: str | None, settings: Settings) -> list[PreparedEvent]:
    return service.prepare_append(settings, parse_events(_json_body(raw, content_type)))


@router.post(
    "/traces",
    status_code=status.HTTP_201_CREATED,
    response_model=TraceCreated,
    responses={200: {"model": TraceCreated, "description": "an identical trace already existed (a retry)"}},
    openapi_extra=_CREATE_BODY_SCHEMA,
)
async def create_trace(
    request: Request,
    settings: AppSettings,
    principal: EarlyPrincipal,
    finalize: bool = Query(False, description="also finalize it (submit a complete trace)"),
) -> Response:
    """Create a trace (optionally with events). A trace_id taken by another developer answers 404, as an
    unknown trace does, so ids cannot be probed. Usually answered in front of FastAPI by
    api/fast_append.py (without a query string), which calls `create` below exactly as this does."""
    result = await create(request, settings, principal, finalize)
    return json_response(result, status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


async def create(request: Request, settings: Settings, principal: Principal, finalize: bool) -> TraceCreated:
    # Parsing, validation, hashing and redaction run before the database writer is taken (in a thread for
    # a big body): the key was checked before the body was read (api/auth_gate.py).
    raw = await request.body()
    prepared = await run_prepare(
        len(raw), _prepare_create, raw, request.headers.get("content-type"), settings, principal
    )
    # A bare create (what `bugtrail start` sends) joins the group's other creates: a few statements for
    # all of them (service.store_creates). With events or finalize it is written on its own.
    batch = None
    if not prepared.events and not finalize:
        batch = Batch(
            "traces.create",
            lambda session, requests: service.store_creates(session, requests),
            service.CreateRequest(principal, prepared),
            stage=0,
        )
    return await run_write(
        request,
        lambda session: service.store_trace(session, settings, principal, prepared, finalize),
        order_key=prepared.trace_id,
        events=len(prepared.events),
        batch=batch,
    )


def json_response(model: BaseModel, status_code: int = status.HTTP_200_OK) -> Response:
    """The model serialised once, by pydantic's own encoder (FastAPI would validate it again first)."""
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")


@router.get("/traces", response_model=TraceList)
def list_traces(
    session: DbSession,
    principal: CurrentPrincipal,
    developer_id: str | None = None,
    status_: Annotated[str | None, Query(alias="status")] = None,
    repo_url: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> TraceList:
    if status_ is not None and status_ not in TRACE_STATUSES:
        raise BadRequest(f"unknown status {status_!r}", detail={"allowed": list(TRACE_STATUSES)})
    filters = repo.TraceFilter(
        developer_id=developer_id,
        status=status_,
        repo_url=repo_url,
        created_after=created_after,
        created_before=created_before,
    )
    return service.list_traces(session, principal, filters, limit, cursor)


@router.get("/traces/{trace_id}", response_model=TraceRead)
def get_trace(
    trace_id: uuid.UUID, request: Request, session: DbSession, principal: CurrentPrincipal
) -> StreamingResponse:
    """Streamed: the events are read and encoded a page at a time (memory does not grow with the trace)."""
    service.check_visible(session, principal, trace_id)
    return StreamingResponse(
        flows.trace_chunks(get_database(request), trace_id, principal), media_type="application/json"
    )


_BATCH: TypeAdapter[EventBatch] = TypeAdapter(EventBatch)
_ONE_EVENT: TypeAdapter[EventIn] = TypeAdapter(EventIn)
_EVENT_REFS = [
    {"$ref": f"#/components/schemas/{name}"} for name in ("EditEvent", "CommandEvent", "ReasoningEvent")
]
_APPEND_BODY_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "anyOf": [
                        {
                            "type": "object",
                            "required": ["events"],
                            "additionalProperties": False,
                            "properties": {
                                "events": {"type": "array", "minItems": 1, "items": {"oneOf": _EVENT_REFS}}
                            },
                        },
                        {"oneOf": _EVENT_REFS},
                    ]
                }
            }
        },
    }
}


def parse_events(body: Any) -> list[EventIn]:
    """A batch {"events": [...]} or one event; validated against exactly one of the two shapes so errors
    name the real field (events[3].details.file) rather than every union branch."""
    try:
        if isinstance(body, dict) and "events" in body:
            return list(_BATCH.validate_python(body).events)
        return [_ONE_EVENT.validate_python(body)]
    except ValidationError as exc:
        raise _validation_error(exc) from exc


@router.post("/traces/{trace_id}/events", response_model=AppendResult, openapi_extra=_APPEND_BODY_SCHEMA)
async def append_events(
    trace_id: uuid.UUID, request: Request, settings: AppSettings, principal: EarlyPrincipal
) -> Response:
    """Append one event, or a batch `{"events": [...]}` (all or nothing). Usually answered in front of
    FastAPI by api/fast_append.py, which calls `append` below exactly as this does."""
    return json_response(await append(request, trace_id, settings, principal))


async def append(
    request: Request, trace_id: uuid.UUID, settings: Settings, principal: Principal
) -> AppendResult:
    raw = await request.body()
    prepared = await run_prepare(
        len(raw), _prepare_append, raw, request.headers.get("content-type"), settings
    )
    return await run_write(
        request,
        lambda session: service.store_events(session, settings, principal, trace_id, prepared),
        order_key=str(trace_id),
        events=len(prepared),
        # Appends in one group are written together (service.store_appends), a few statements in all.
        batch=Batch(
            "traces.append",
            lambda session, requests: service.store_appends(session, settings, requests),
            service.AppendRequest(principal, trace_id, prepared),
            stage=1,  # after the group's creates: an append finds a trace created earlier in its group
        ),
    )


_TRACE_ID: TypeAdapter[uuid.UUID] = TypeAdapter(uuid.UUID)


def path_trace_id(text: str) -> uuid.UUID:
    """A trace id from the path, with the error FastAPI gives for a declared UUID path parameter."""
    try:
        return _TRACE_ID.validate_python(text)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**err, "loc": ("path", "trace_id")} for err in exc.errors(include_url=False)]
        ) from exc


@router.post(
    "/traces/{trace_id}/finalize", response_model=FinalizeResult, status_code=status.HTTP_202_ACCEPTED
)
async def finalize_trace(
    trace_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    principal: CurrentPrincipal,
    response: Response,
    wait: Annotated[float, Query(ge=0, le=3600, description="block up to this many seconds for QA")] = 0,
) -> FinalizeResult:
    # async, with the database work in the thread pool: a client waiting for QA costs a coroutine, not one
    # of the pool's 40 threads (40 waiting clients used to freeze the whole server for up to an hour).
    result = await run_in_threadpool(service.finalize_trace, session, settings, principal, trace_id)
    if wait <= 0:
        return result
    waited = await flows.wait_for_qa(
        session,
        get_database(request),
        principal,
        result,
        wait,
        release_db_gate=getattr(request.state, "release_db_gate", None),
    )
    if waited.status in TERMINAL:
        response.status_code = status.HTTP_200_OK
    return waited
