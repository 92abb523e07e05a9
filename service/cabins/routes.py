"""The cabin routes for operators, admins and (read-only) regulators (design.md §6): parse,
authorise, call `service.cabins.service`, shape the response."""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request, Response
from pydantic import PlainValidator
from sqlalchemy.orm import Session

from service.auth.deps import AnyPrincipal, OperatorPrincipal
from service.cabins import queries, service
from service.cabins.records import read_of
from service.cabins.schemas import (
    AuditEventRead,
    CabinCreate,
    CabinPage,
    CabinRead,
    HistoryPage,
    Status,
    TransitionRequest,
    VenueKind,
)
from service.compliance import filters as territory
from service.db import DbSession
from service.errors import InvalidParameter, NotFound, problem_responses
from service.patterns import CURSOR, MULTI_LINE, ONE_LINE
from service.routing import ApiRoute

router = APIRouter(prefix="/v1/cabins", tags=["cabins"], route_class=ApiRoute)

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='The ETag from a previous read, e.g. "3".',
        max_length=200,
    ),
]


def _etag(version: int) -> str:
    return f'"{version}"'


def _respond(response: Response, located: queries.Located, session: Session) -> CabinRead:
    response.headers["ETag"] = _etag(located.cabin.version)
    compliance = queries.compliance_of(session, [located.cabin.id]).get(located.cabin.id)
    return read_of(located.cabin, located.lon, located.lat, compliance)


# The pager of the cabin lists (the cabins, a cabin's history): keyset pages of `limit` items
# (the server's default and maximum apply), the next one linked by `next` with an opaque
# `after` cursor, the last item's key as 16 bytes in URL-safe base64.
Limit = Annotated[int | None, Query(ge=1, description="Page size (capped by the server).")]
After = Annotated[str | None, Query(pattern=CURSOR, description="Cursor from `next`.")]


def _page_size(request: Request, limit: int | None) -> int:
    settings = request.app.state.settings
    return int(min(limit or settings.page_size_default, settings.page_size_max))


def _encode_cursor(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode().rstrip("=")


def _bad_cursor() -> InvalidParameter:
    return InvalidParameter(
        "The cursor is not one this service gave.",
        errors=[{"field": "after", "reason": "not a cursor from a `next` link"}],
    )


def _decode_cursor(cursor: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (ValueError, binascii.Error):
        raise _bad_cursor() from None
    if len(key) != 16:
        raise _bad_cursor()
    return key


def _event_cursor(cursor: str) -> int:
    """An audit event id (a PostgreSQL bigint) from a history cursor."""
    event_id = int.from_bytes(_decode_cursor(cursor))
    if event_id >= 2**63:
        raise _bad_cursor()
    return event_id


def _next_link(request: Request, size: int, found: int, last_key: bytes) -> str | None:
    """The link to the next page when the query found more than a page (it asks for one more
    row than the page holds), else None."""
    if found <= size:
        return None
    return str(request.url.include_query_params(after=_encode_cursor(last_key), limit=size))


def _json_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("must be a JSON object: a cabin record")
    return value


# The body of POST /v1/cabins, documented as a `CabinCreate` but read by the service, which
# checks the record's types, its record-level rules and its point in one pass so that one
# answer lists every error (a type error no longer hides a bad SIRET key).
CabinDocument = Annotated[
    dict[str, Any], PlainValidator(_json_object, json_schema_input_type=CabinCreate)
]


@router.post(
    "",
    status_code=201,
    response_model=CabinRead,
    responses=problem_responses(400, 401, 403, 409, 415, 422),
    summary="Register a cabin (starts as draft)",
)
def create_cabin(
    body: CabinDocument, session: DbSession, principal: OperatorPrincipal, response: Response
) -> CabinRead:
    located = service.create(session, principal, body)
    response.headers["Location"] = f"/v1/cabins/{located.cabin.id}"
    return _respond(response, located, session)


@router.get(
    "",
    response_model=CabinPage,
    responses=problem_responses(400, 401),
    summary="List the cabins the caller may see, in pages",
)
def list_cabins(
    request: Request,
    session: DbSession,
    principal: AnyPrincipal,
    status: Annotated[Status | None, Query()] = None,
    commune: Annotated[
        str | None, Query(max_length=8, description="Derived commune INSEE code, e.g. 75056.")
    ] = None,
    departement: Annotated[
        str | None, Query(max_length=8, description="INSEE département code, e.g. 69 or 2A.")
    ] = None,
    region: Annotated[
        str | None, Query(max_length=8, description="INSEE région code, e.g. 84.")
    ] = None,
    venue_kind: Annotated[VenueKind | None, Query()] = None,
    reference: Annotated[
        str | None,
        Query(
            max_length=120,
            pattern=ONE_LINE,
            description="Public reference (CAB-…) or the operator's own.",
        ),
    ] = None,
    limit: Limit = None,
    after: After = None,
) -> CabinPage:
    territory.check_territory(session, region, departement)
    territory.check_commune(session, commune)
    size = _page_size(request, limit)
    filters = queries.CabinFilters(status, commune, departement, region, venue_kind, reference)
    cursor = uuid.UUID(bytes=_decode_cursor(after)) if after else None
    rows = queries.list_visible(session, principal, filters, after=cursor, limit=size + 1)
    page = rows[:size]
    compliance = queries.compliance_of(session, [r.cabin.id for r in page])
    items = [read_of(r.cabin, r.lon, r.lat, compliance.get(r.cabin.id)) for r in page]
    next_url = _next_link(request, size, len(rows), page[-1].cabin.id.bytes if page else b"")
    return CabinPage(items=items, next=next_url)


@router.get(
    "/{cabin_id}",
    response_model=CabinRead,
    responses=problem_responses(400, 401, 404),
    summary="Read a cabin (ETag = its version)",
)
def read_cabin(
    cabin_id: uuid.UUID, session: DbSession, principal: AnyPrincipal, response: Response
) -> CabinRead:
    located = queries.get_visible(session, principal, cabin_id)
    if located is None:
        raise NotFound(f"No cabin {cabin_id}.")
    return _respond(response, located, session)


@router.patch(
    "/{cabin_id}",
    response_model=CabinRead,
    responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422, 428),
    summary="Change a cabin with a JSON merge patch (If-Match required)",
)
def patch_cabin(
    cabin_id: uuid.UUID,
    session: DbSession,
    principal: OperatorPrincipal,
    response: Response,
    # Required: with a default, an empty body reached the service as that default (a 500).
    patch: Annotated[
        dict[str, Any],
        Body(
            description="RFC 7396 merge patch over the CabinCreate shape: objects merge, null"
            " removes a field. Blocks present in the patch count as confirmed (SIT-20).",
            media_type="application/merge-patch+json",
        ),
    ],
    if_match: IfMatch = None,
) -> CabinRead:
    located = service.update(session, principal, cabin_id, patch, if_match=if_match)
    return _respond(response, located, session)


@router.post(
    "/{cabin_id}/transitions",
    response_model=CabinRead,
    responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422),
    summary="Move a cabin along its lifecycle",
)
def transition_cabin(
    cabin_id: uuid.UUID,
    body: TransitionRequest,
    session: DbSession,
    principal: OperatorPrincipal,
    response: Response,
    if_match: IfMatch = None,
) -> CabinRead:
    located = service.transition(session, principal, cabin_id, body, if_match=if_match)
    return _respond(response, located, session)


@router.delete(
    "/{cabin_id}",
    response_model=CabinRead,
    responses=problem_responses(400, 401, 403, 404, 409, 412),
    summary="Decommission a cabin (it is kept, never deleted)",
)
def decommission_cabin(
    cabin_id: uuid.UUID,
    session: DbSession,
    principal: OperatorPrincipal,
    response: Response,
    if_match: IfMatch = None,
    reason: Annotated[
        str | None,
        Query(max_length=500, pattern=MULTI_LINE, description="Why; kept in the audit trail."),
    ] = None,
) -> CabinRead:
    request = TransitionRequest(to="decommissioned", reason=(reason or "").strip() or None)
    located = service.transition(session, principal, cabin_id, request, if_match=if_match)
    return _respond(response, located, session)


@router.get(
    "/{cabin_id}/history",
    response_model=HistoryPage,
    responses=problem_responses(400, 401, 404),
    summary="The cabin's audit events, oldest first, in pages",
)
def cabin_history(
    cabin_id: uuid.UUID,
    request: Request,
    session: DbSession,
    principal: AnyPrincipal,
    limit: Limit = None,
    after: After = None,
) -> HistoryPage:
    size = _page_size(request, limit)
    cursor = _event_cursor(after) if after else None
    events = service.history(session, principal, cabin_id, after=cursor, limit=size + 1)
    page = events[:size]
    last = page[-1].id.to_bytes(16) if page else b""
    return HistoryPage(
        items=[AuditEventRead.model_validate(e, from_attributes=True) for e in page],
        next=_next_link(request, size, len(events), last),
    )
