"""Callers of the API for tests: two operators, an admin and regulators, each with a key.
Imported by the conftest of each test package that needs them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from tests.auth.factories import bearer, make_key, make_operator


@dataclass(frozen=True)
class Callers:
    operator_id: uuid.UUID
    operator: dict[str, str]
    other_operator_id: uuid.UUID
    other_operator: dict[str, str]
    admin: dict[str, str]
    regulator: dict[str, str]
    regulator_auvergne_rhone_alpes: dict[str, str]


@pytest.fixture
def callers(db: Session) -> Callers:
    mine = make_operator(db, "Cabines du Centre")
    other = make_operator(db, "Autre opérateur")
    callers = Callers(
        operator_id=mine,
        operator=bearer(make_key(db, "operator", operator_id=mine)),
        other_operator_id=other,
        other_operator=bearer(make_key(db, "operator", operator_id=other)),
        admin=bearer(make_key(db, "admin")),
        regulator=bearer(make_key(db, "regulator", scope="national")),
        regulator_auvergne_rhone_alpes=bearer(make_key(db, "regulator", scope="region:84")),
    )
    # Releases the savepoint only (the test's outer transaction is rolled back at teardown),
    # so a request that fails and rolls back does not take the keys with it.
    db.commit()
    return callers
