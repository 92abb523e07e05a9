"""Who is calling: the `Principal` behind an `Authorization: Bearer <key>` header, and the
FastAPI dependencies that demand a role. 401 (with `WWW-Authenticate: Bearer`) without a key
or with a bad one; 403 when the role may not do this."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select

from service.audit.trail import Actor
from service.auth.keys import key_matches, key_prefix
from service.auth.models import ApiClient
from service.db import DbSession
from service.errors import Forbidden, Unauthorized

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key>`.")


@dataclass(frozen=True)
class Principal:
    client_id: uuid.UUID
    name: str
    role: str
    operator_id: uuid.UUID | None = None
    scope: str | None = None

    @property
    def region(self) -> str | None:
        """The région a regional regulator is limited to; None for national reach."""
        if self.scope and self.scope.startswith("region:"):
            return self.scope.removeprefix("region:")
        return None

    @property
    def actor(self) -> Actor:
        return Actor(name=self.name, client_id=self.client_id)


def _unauthorized(detail: str, error: str | None = None) -> Unauthorized:
    challenge = f'Bearer error="{error}"' if error else "Bearer"
    return Unauthorized(
        detail,
        errors=[{"field": "Authorization", "reason": detail}],
        headers={"WWW-Authenticate": challenge},
    )


def current_principal(
    session: DbSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("An API key is required: send `Authorization: Bearer <key>`.")
    key = credentials.credentials.strip()
    prefix = key_prefix(key)
    client = (
        session.scalar(select(ApiClient).where(ApiClient.key_prefix == prefix)) if prefix else None
    )
    if client is None or not key_matches(key, client.key_hash):
        raise _unauthorized("The API key is not valid.", "invalid_token")
    if not client.active:
        # Said only to the holder of the whole key (the prefix alone is not secret), and no
        # more than that: not who revoked it, nor when.
        raise _unauthorized("The API key has been revoked.", "invalid_token")
    return Principal(
        client_id=client.id,
        name=client.name,
        role=client.role,
        operator_id=client.operator_id,
        scope=client.scope,
    )


def with_article(word: str) -> str:
    """`word` after the indefinite article it takes: "an operator", "an admin", "a regulator"."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def _requiring(*roles: str):  # type: ignore[no-untyped-def]
    # The message says what the route needs, whatever the route is about (cabins, rule sets,
    # clients): the roles it takes and the one that was sent.
    needed = with_article(" or ".join(roles))

    def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in roles:
            sent = with_article(principal.role)
            raise Forbidden(
                f"This route needs {needed} key; {sent} key was sent.",
                errors=[
                    {
                        "field": "Authorization",
                        "reason": f"needs {needed} key, not {sent} key",
                    }
                ],
            )
        return principal

    return dependency


AnyPrincipal = Annotated[Principal, Depends(current_principal)]
"""Any valid key (operator, regulator or admin)."""
require_operator = _requiring("operator", "admin")
"""An operator key, or an admin acting for any operator."""
require_regulator = _requiring("regulator", "admin")
"""A regulator key (scope national or one région), or an admin (national)."""
require_admin = _requiring("admin")
"""An admin key: operators, API clients, rule sets."""

OperatorPrincipal = Annotated[Principal, Depends(require_operator)]
RegulatorPrincipal = Annotated[Principal, Depends(require_regulator)]
AdminPrincipal = Annotated[Principal, Depends(require_admin)]
