"""The admin API for operators and API clients (admin keys only)."""

from __future__ import annotations

import base64
import struct
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

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
from service.patterns import LONG_CURSOR
from service.routing import ApiRoute

router = APIRouter(prefix="/v1", tags=["admin"], route_class=ApiRoute)


# A page's cursor is where its last client stands in the list's order (created_at, id):
# 8 bytes of microseconds since the epoch, then the 16 bytes of the id, base64url (32 chars).
# It needs no lookup, so it stays good whatever happens to that client.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
CURSOR_PATTERN = LONG_CURSOR


def _encode_cursor(client: ApiClient) -> str:
    micros = (client.created_at - _EPOCH) // _MICROSECOND
    return base64.urlsafe_b64encode(struct.pack(">q", micros) + client.id.bytes).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    raw = base64.urlsafe_b64decode(cursor)  # 32 characters of the pattern: always 24 bytes
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
    body: ClientCreate, session: DbSession, principal: AdminPrincipal
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
    limit: Annotated[
        int | None, Query(ge=1, description="Page size (capped by the server).")
    ] = None,
    after: Annotated[
        str | None, Query(pattern=CURSOR_PATTERN, description="Cursor from `next`.")
    ] = None,
) -> ClientPage:
    settings = request.app.state.settings
    size = min(limit or settings.page_size_default, settings.page_size_max)
    found = service.clients(
        session,
        operator_id=operator_id,
        active=active,
        after=_decode_cursor(after) if after else None,
        limit=size + 1,
    )
    next_url = None
    if len(found) > size:
        next_url = str(
            request.url.include_query_params(after=_encode_cursor(found[size - 1]), limit=size)
        )
    return ClientPage(
        items=[ClientRead.model_validate(c, from_attributes=True) for c in found[:size]],
        next=next_url,
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
    responses=problem_responses(400, 401, 403, 404),
    summary="Revoke an API client: its key stops working at once; the client stays on record",
)
def revoke_client(
    client_id: uuid.UUID,
    session: DbSession,
    principal: AdminPrincipal,
    reason: Annotated[str | None, Query(max_length=500, description="Why, for the audit.")] = None,
) -> ClientRead:
    client = service.revoke_client(
        session, principal.actor, client_id, (reason or "").strip() or None
    )
    return ClientRead.model_validate(client, from_attributes=True)
