"""The admin API for operators and API clients (admin keys only)."""

from __future__ import annotations

import struct
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from service import paging
from service.auth import service
from service.auth.deps import AdminPrincipal
from service.auth.models import ApiClient, Operator
from service.auth.schemas import (
    ClientCreate,
    ClientCreated,
    ClientPage,
    ClientRead,
    OperatorCreate,
    OperatorRead,
)
from service.db import DbSession
from service.errors import NotFound, problem_responses
from service.patterns import LONG_CURSOR, MULTI_LINE
from service.routing import ApiRoute

router = APIRouter(prefix="/v1", tags=["admin"], route_class=ApiRoute)


# A page's cursor is where its last client stands in the list's order (created_at, id):
# 8 bytes of microseconds since the epoch, then the 16 bytes of the id (32 characters).
# It needs no lookup, so it stays good whatever happens to that client.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
ClientAfter = Annotated[str | None, Query(pattern=LONG_CURSOR, description="Cursor from `next`.")]


def _client_key(client: ApiClient) -> bytes:
    micros = (client.created_at - _EPOCH) // _MICROSECOND
    return struct.pack(">q", micros) + client.id.bytes


def _client_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    raw = paging.decode_cursor(cursor, 24)
    (micros,) = struct.unpack(">q", raw[:8])
    try:
        at = _EPOCH + micros * _MICROSECOND
    except OverflowError:  # not one this service gave; before or after every client
        at = datetime.min.replace(tzinfo=UTC) if micros < 0 else datetime.max.replace(tzinfo=UTC)
    return at, uuid.UUID(bytes=raw[8:])


@router.post(
    "/operators",
    status_code=201,
    response_model=OperatorRead,
    responses=problem_responses(400, 401, 403, 409, 415, 422),
    summary="Register an operator (admin)",
)
def create_operator(
    body: OperatorCreate, session: DbSession, principal: AdminPrincipal, response: Response
) -> OperatorRead:
    operator = service.create_operator(
        session,
        principal.actor,
        name=body.name,
        siren=body.siren,
        contact_email=body.contact_email,
        contact_phone=body.contact_phone,
    )
    session.refresh(operator)
    response.headers["Location"] = f"/v1/operators/{operator.id}"
    return OperatorRead.model_validate(operator, from_attributes=True)


@router.get(
    "/operators/{operator_id}",
    response_model=OperatorRead,
    responses=problem_responses(400, 401, 403, 404),
    summary="Read an operator (admin)",
)
def read_operator(
    operator_id: uuid.UUID, session: DbSession, principal: AdminPrincipal
) -> OperatorRead:
    operator = session.get(Operator, operator_id)
    if operator is None:
        raise NotFound(f"No operator {operator_id}.")
    return OperatorRead.model_validate(operator, from_attributes=True)


@router.post(
    "/clients",
    status_code=201,
    response_model=ClientCreated,
    responses=problem_responses(400, 401, 403, 415, 422),
    summary="Create an API client; its key is in this response only (admin)",
)
def create_client(
    body: ClientCreate, session: DbSession, principal: AdminPrincipal, response: Response
) -> ClientCreated:
    created = service.create_client(
        session,
        principal.actor,
        role=body.role,
        name=body.name,
        operator_id=getattr(body, "operator_id", None),
        scope=getattr(body, "scope", None),
    )
    session.refresh(created.client)
    response.headers["Location"] = f"/v1/clients/{created.client.id}"
    read = ClientRead.model_validate(created.client, from_attributes=True)
    return ClientCreated(**read.model_dump(), key=created.key)


@router.get(
    "/clients",
    response_model=ClientPage,
    responses=problem_responses(400, 401, 403),
    summary="List the API clients, without their keys, in pages (admin)",
)
def list_clients(
    request: Request,
    session: DbSession,
    principal: AdminPrincipal,
    operator_id: Annotated[uuid.UUID | None, Query(description="Only this operator's.")] = None,
    active: Annotated[bool | None, Query(description="Only active (or revoked) ones.")] = None,
    limit: paging.Limit = None,
    after: ClientAfter = None,
) -> ClientPage:
    size = paging.page_size(request, limit)
    found = service.clients(
        session,
        operator_id=operator_id,
        active=active,
        after=_client_cursor(after) if after is not None else None,
        limit=size + 1,
    )
    return ClientPage(
        items=[ClientRead.model_validate(c, from_attributes=True) for c in found[:size]],
        next=paging.next_link(request, size, found, _client_key),
    )


@router.get(
    "/clients/{client_id}",
    response_model=ClientRead,
    responses=problem_responses(400, 401, 403, 404),
    summary="Read an API client, without its key (admin)",
)
def read_client(client_id: uuid.UUID, session: DbSession, principal: AdminPrincipal) -> ClientRead:
    client = session.get(ApiClient, client_id)
    if client is None:
        raise NotFound(f"No API client {client_id}.")
    return ClientRead.model_validate(client, from_attributes=True)


@router.delete(
    "/clients/{client_id}",
    response_model=ClientRead,
    responses=problem_responses(400, 401, 403, 404, 409),
    summary="Revoke an API client: its key stops working at once; the client stays on record"
    " (admin)",
)
def revoke_client(
    client_id: uuid.UUID,
    session: DbSession,
    principal: AdminPrincipal,
    reason: Annotated[
        str | None,
        Query(
            max_length=500,
            pattern=MULTI_LINE,
            description="Why, for the audit trail (lines separated by LF, no other control"
            " character).",
        ),
    ] = None,
) -> ClientRead:
    client = service.revoke_client(
        session, principal.actor, client_id, (reason or "").strip() or None
    )
    return ClientRead.model_validate(client, from_attributes=True)
