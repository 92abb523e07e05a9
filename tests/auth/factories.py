"""Operators and API clients for tests, written in the test's session (rolled back after)."""

from __future__ import annotations

import random
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum import luhn

from service.audit.trail import CLI_ACTOR
from service.auth.keys import key_prefix
from service.auth.models import ApiClient
from service.auth.service import create_client, create_operator


def valid_siren(rng: random.Random | None = None) -> str:
    body = "".join(str((rng or random).randint(0, 9)) for _ in range(8))
    return body + luhn.calc_check_digit(body)


def valid_siret(siren: str | None = None, rng: random.Random | None = None) -> str:
    base = (siren or valid_siren(rng)) + "".join(
        str((rng or random).randint(0, 9)) for _ in range(4)
    )
    return base + luhn.calc_check_digit(base)


def make_operator(db: Session, name: str = "Opérateur de test") -> uuid.UUID:
    return create_operator(db, CLI_ACTOR, name=name, siren=valid_siren()).id


def make_key(
    db: Session, role: str, *, operator_id: uuid.UUID | None = None, scope: str | None = None
) -> str:
    return create_client(db, CLI_ACTOR, role=role, operator_id=operator_id, scope=scope).key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def client_of(db: Session, headers: dict[str, str]) -> ApiClient:
    """The API client whose key a request's `Authorization` header carries."""
    prefix = key_prefix(headers["Authorization"].removeprefix("Bearer "))
    client = db.scalar(select(ApiClient).where(ApiClient.key_prefix == prefix))
    assert client is not None
    return client
