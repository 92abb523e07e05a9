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

from service.auth.models import ApiClient
from service.cabins.imports.models import ImportJob
from tests.auth.factories import bearer, make_key
from tests.auth.fixtures import callers  # noqa: F401


@dataclass(frozen=True)
class Committed:
    operator_id: uuid.UUID
    headers: dict[str, str]


@pytest.fixture
def committed(engine: Engine, committed_operator: uuid.UUID) -> Iterator[Committed]:
    """`committed_operator` with an operator key; its import jobs and key are deleted after
    the test (its cabins and itself by `committed_operator`)."""
    with Session(engine) as session:
        key = make_key(session, "operator", operator_id=committed_operator)
        session.commit()
    yield Committed(committed_operator, bearer(key))
    with Session(engine) as session:
        session.execute(delete(ImportJob).where(ImportJob.operator_id == committed_operator))
        session.execute(delete(ApiClient).where(ApiClient.operator_id == committed_operator))
        session.commit()
