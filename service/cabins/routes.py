"""The cabin routes for operators, admins and (read-only) regulators (design.md §6): parse,
authorise, call `service.cabins.service`, shape the response."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request, Response
from pydantic import PlainValidator
from sqlalchemy.orm import Session

from service import paging
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
from service.errors import NotFound, problem_responses
from service.paging import After, Limit
from service.patterns import MULTI_LINE, ONE_LINE
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
    responses=problem_responses(400, 401, 403),
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
    territory.check_scope(session, principal, region, departement, commune)
    size = paging.page_size(request, limit)
    filters = queries.CabinFilters(status, commune, departement, region, venue_kind, reference)
    cursor = paging.uuid_cursor(after) if after is not None else None
    rows = queries.list_visible(session, principal, filters, after=cursor, limit=size + 1)
    page = rows[:size]
    compliance = queries.compliance_of(session, [r.cabin.id for r in page])
    items = [read_of(r.cabin, r.lon, r.lat, compliance.get(r.cabin.id)) for r in page]
    next_url = paging.next_link(request, size, rows, lambda r: r.cabin.id.bytes)
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
    size = paging.page_size(request, limit)
    cursor = paging.bigint_cursor(after) if after is not None else None
    events = service.history(session, principal, cabin_id, after=cursor, limit=size + 1)
    return HistoryPage(
        items=[AuditEventRead.model_validate(e, from_attributes=True) for e in events[:size]],
        next=paging.next_link(request, size, events, lambda e: paging.bigint_key(e.id)),
    )
