"""The cabin routes for operators, admins and (read-only) regulators (design.md §6): parse,
authorise, call `service.cabins.service`, shape the response."""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request, Response
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
    Insee,
    Status,
    TransitionRequest,
    VenueKind,
)
from service.db import DbSession
from service.errors import InvalidParameter, NotFound, problem_responses
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


def _encode_cursor(cabin_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(cabin_id.bytes).decode().rstrip("=")


def _decode_cursor(cursor: str) -> uuid.UUID:
    try:
        return uuid.UUID(bytes=base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        raise InvalidParameter(
            "The cursor is not one this service gave.",
            errors=[{"field": "after", "reason": "not a cursor from a `next` link"}],
        ) from None


@router.post(
    "",
    status_code=201,
    response_model=CabinRead,
    responses=problem_responses(400, 401, 403, 409, 415, 422),
    summary="Register a cabin (starts as draft)",
)
def create_cabin(
    body: CabinCreate, session: DbSession, principal: OperatorPrincipal, response: Response
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
    commune: Annotated[Insee | None, Query(description="Derived commune INSEE code.")] = None,
    departement: Annotated[str | None, Query(pattern=r"^(?:[0-9]{2}|2A|2B|97[1-6])$")] = None,
    region: Annotated[str | None, Query(pattern=r"^[0-9]{2}$")] = None,
    venue_kind: Annotated[VenueKind | None, Query()] = None,
    reference: Annotated[
        str | None,
        Query(
            max_length=120,
            pattern=r"^[^\x00]*$",
            description="Public reference (CAB-…) or the operator's own.",
        ),
    ] = None,
    limit: Annotated[
        int | None, Query(ge=1, description="Page size (capped by the server).")
    ] = None,
    after: Annotated[
        str | None, Query(pattern=r"^[A-Za-z0-9_-]{22}$", description="Cursor from `next`.")
    ] = None,
) -> CabinPage:
    settings = request.app.state.settings
    size = min(limit or settings.page_size_default, settings.page_size_max)
    filters = queries.CabinFilters(status, commune, departement, region, venue_kind, reference)
    cursor = _decode_cursor(after) if after else None
    rows = queries.list_visible(session, principal, filters, after=cursor, limit=size + 1)
    page = rows[:size]
    compliance = queries.compliance_of(session, [r.cabin.id for r in page])
    items = [read_of(r.cabin, r.lon, r.lat, compliance.get(r.cabin.id)) for r in page]
    next_url = None
    if len(rows) > size:
        next_url = str(
            request.url.include_query_params(
                after=_encode_cursor(rows[size - 1].cabin.id), limit=size
            )
        )
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
    if_match: IfMatch = None,
    patch: Annotated[
        dict[str, Any],
        Body(
            description="RFC 7396 merge patch over the CabinCreate shape: objects merge, null"
            " removes a field. Blocks present in the patch count as confirmed (SIT-20).",
            media_type="application/merge-patch+json",
        ),
    ] = ...,  # type: ignore[assignment]
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
    reason: Annotated[str | None, Query(max_length=500)] = None,
) -> CabinRead:
    request = TransitionRequest(to="decommissioned", reason=(reason or "").strip() or None)
    located = service.transition(session, principal, cabin_id, request, if_match=if_match)
    return _respond(response, located, session)


@router.get(
    "/{cabin_id}/history",
    response_model=HistoryPage,
    responses=problem_responses(400, 401, 404),
    summary="The cabin's audit events, oldest first",
)
def cabin_history(cabin_id: uuid.UUID, session: DbSession, principal: AnyPrincipal) -> HistoryPage:
    events = service.history(session, principal, cabin_id)
    return HistoryPage(
        items=[AuditEventRead.model_validate(e, from_attributes=True) for e in events]
    )
