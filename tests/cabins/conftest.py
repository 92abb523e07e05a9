"""Fixtures of the cabin tests: the callers (operators, admin, regulators with keys), and an
operator with its key committed for the tests that run more than one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from service.auth.models import ApiClient, Operator
from service.cabins.imports.models import ImportJob
from service.cabins.models import Cabin
from tests.auth.factories import bearer, make_key, make_operator
from tests.auth.fixtures import callers  # noqa: F401


@dataclass(frozen=True)
class Committed:
    operator_id: uuid.UUID
    headers: dict[str, str]


@pytest.fixture
def committed(engine: Engine) -> Iterator[Committed]:
    with Session(engine) as session:
        operator_id = make_operator(session, "Opérateur des imports longs")
        key = make_key(session, "operator", operator_id=operator_id)
        session.commit()
    yield Committed(operator_id, bearer(key))
    with Session(engine) as session:
        session.execute(delete(Cabin).where(Cabin.operator_id == operator_id))
        session.execute(delete(ImportJob).where(ImportJob.operator_id == operator_id))
        session.execute(delete(ApiClient).where(ApiClient.operator_id == operator_id))
        session.execute(delete(Operator).where(Operator.id == operator_id))
        session.commit()
