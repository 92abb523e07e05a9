"""Creating operators and API clients, listing and revoking clients (from the CLI or the admin
API), with their checks. The caller owns the transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from service.audit.trail import Actor, record
from service.auth.keys import generate_key
from service.auth.models import ApiClient, Operator
from service.auth.schemas import ClientCreate, OperatorCreate
from service.errors import Conflict, NotFound, ValidationFailed, field_errors
from service.territories.models import Region
from service.territories.queries import current_layer_ids


def create_operator(
    session: Session,
    actor: Actor,
    *,
    name: str,
    siren: str,
    contact_email: str | None = None,
    contact_phone: str | None = None,
) -> Operator:
    siren = siren.replace(" ", "")
    try:
        # The same checks whether the operator comes from the API or the CLI.
        body = OperatorCreate(
            name=name, siren=siren, contact_email=contact_email, contact_phone=contact_phone
        )
    except ValidationError as error:
        raise ValidationFailed(
            "The operator cannot be registered.", errors=field_errors(error)
        ) from None
    name, contact_email, contact_phone = body.name, body.contact_email, body.contact_phone
    if session.scalar(select(Operator.id).where(Operator.siren == siren)) is not None:
        raise Conflict(
            f"An operator with SIREN {siren} already exists.",
            errors=[{"field": "siren", "reason": "already registered"}],
        )
    operator = Operator(
        id=uuid.uuid4(),
        name=name,
        siren=siren,
        contact_email=contact_email,
        contact_phone=contact_phone,
    )
    session.add(operator)
    session.flush()
    record(
        session,
        actor,
        "operator.create",
        "operator",
        str(operator.id),
        {"name": [None, name], "siren": [None, siren]},
    )
    return operator


_CLIENT_CREATE: TypeAdapter[ClientCreate] = TypeAdapter(ClientCreate)


@dataclass(frozen=True)
class CreatedClient:
    client: ApiClient
    key: str


def create_client(
    session: Session,
    actor: Actor,
    *,
    role: str,
    name: str | None = None,
    operator_id: uuid.UUID | None = None,
    scope: str | None = None,
) -> CreatedClient:
    """A new API client; the returned key is the only copy there will ever be."""
    given = {"role": role, "name": name, "operator_id": operator_id, "scope": scope}
    try:
        # The same checks whether the client comes from the API or the CLI.
        body = _CLIENT_CREATE.validate_python({k: v for k, v in given.items() if v is not None})
    except ValidationError as error:
        # The first place of a path is the role the body was read as.
        raise ValidationFailed(
            "The client cannot be created.", errors=field_errors(error, whole="role", drop=1)
        ) from None
    name = body.name
    errors = []
    if operator_id is not None and session.get(Operator, operator_id) is None:
        errors.append({"field": "operator_id", "reason": "no such operator"})
    if scope is not None and scope != "national":
        known = session.scalar(
            select(Region.code).where(
                Region.code == scope.removeprefix("region:"),
                Region.layer_id.in_(current_layer_ids("region")),
            )
        )
        if known is None:
            errors.append(
                {"field": "scope", "reason": "must be 'national' or 'region:<known region code>'"}
            )
    if errors:
        raise ValidationFailed("The client cannot be created.", errors=errors)

    new_key = generate_key()
    client = ApiClient(
        id=uuid.uuid4(),
        name=name or role,
        key_prefix=new_key.prefix,
        key_hash=new_key.hash,
        role=role,
        operator_id=operator_id,
        scope=scope,
        active=True,
    )
    session.add(client)
    session.flush()
    record(
        session,
        actor,
        "client.create",
        "api_client",
        str(client.id),
        # What the client is, never its key nor the key's hash.
        {
            "name": [None, client.name],
            "role": [None, role],
            "operator_id": [None, str(operator_id) if operator_id else None],
            "scope": [None, scope],
        },
    )
    return CreatedClient(client=client, key=new_key.key)


def clients(
    session: Session,
    *,
    operator_id: uuid.UUID | None = None,
    active: bool | None = None,
    after: tuple[datetime, uuid.UUID] | None = None,
    limit: int | None = None,
) -> list[ApiClient]:
    """API clients (never a key: only its hash is stored), oldest first: those after the
    place `after` (a page's last `(created_at, id)`), at most `limit` of them."""
    stmt = select(ApiClient).order_by(ApiClient.created_at, ApiClient.id)
    if operator_id is not None:
        stmt = stmt.where(ApiClient.operator_id == operator_id)
    if active is not None:
        stmt = stmt.where(ApiClient.active.is_(active))
    if after is not None:
        stmt = stmt.where(tuple_(ApiClient.created_at, ApiClient.id) > tuple_(*after))
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def revoke_client(
    session: Session, actor: Actor, client_id: uuid.UUID, reason: str | None = None
) -> ApiClient:
    """The client's key stops authenticating at once (the next request is a 401); the client
    stays on record, revoked, with an audit event. Revoking a revoked client changes nothing.
    The registry's last active admin key is not revoked (409): no admin could then manage
    keys, operators or rule sets."""
    role = session.scalar(select(ApiClient.role).where(ApiClient.id == client_id))
    admins: list[uuid.UUID] = []
    if role == "admin":
        # Every active admin key, locked in one order: two admins revoking each other's key at
        # once are one after the other, and the second sees the first's revocation.
        admins = list(
            session.scalars(
                select(ApiClient.id)
                .where(ApiClient.role == "admin", ApiClient.active.is_(True))
                .order_by(ApiClient.id)
                .with_for_update()
            )
        )
    client = session.get(ApiClient, client_id, with_for_update=True)
    if client is None:
        raise NotFound(f"No API client {client_id}.")
    if client.active and admins == [client.id]:
        raise Conflict(
            "This is the registry's last active admin key: revoking it would leave no key to"
            " manage operators, keys and rule sets. Create another admin key first"
            " (POST /v1/clients with role admin), then revoke this one.",
            errors=[{"field": "client_id", "reason": "the last active admin key"}],
        )
    if client.active:
        client.active = False
        session.flush()
        record(
            session,
            actor,
            "client.revoke",
            "api_client",
            str(client.id),
            {"active": [True, False]},
            reason,
        )
    return client
