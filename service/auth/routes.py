"""The admin API for operators and API clients (admin keys only)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from service.auth import service
from service.auth.deps import AdminPrincipal
from service.auth.models import Operator
from service.auth.schemas import (
    ClientCreate,
    ClientCreated,
    ClientRead,
    OperatorCreate,
    OperatorRead,
)
from service.db import DbSession
from service.errors import NotFound, problem_responses
from service.routing import ApiRoute

router = APIRouter(prefix="/v1", tags=["admin"], route_class=ApiRoute)


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
