"""The callers of the regulator views and a small world of cabins: operators A and B each
with a cabin in Lyon (région 84) and in Paris (région 11)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from service.cabins.models import Cabin
from tests.auth.factories import bearer, make_key, make_operator
from tests.compliance.factories import LYON, PARIS, ensure_rule_set, make_cabin


@dataclass(frozen=True)
class World:
    rule_set: str
    codes: list[str]
    operator_a: uuid.UUID
    operator_b: uuid.UUID
    keys: dict[str, dict[str, str]]
    """Headers per role: operator_a, operator_b, ars_84, ars_11, national, admin, public."""
    cabins: dict[str, Cabin]
    """a84, b84 (Lyon), a11, b11 (Paris)."""

    def visible(self, role: str) -> set[str]:
        """Which of the world's cabins each role may see."""
        return {
            "operator_a": {"a84", "a11"},
            "operator_b": {"b84", "b11"},
            "ars_84": {"a84", "b84"},
            "ars_11": {"a11", "b11"},
            "national": {"a84", "b84", "a11", "b11"},
            "admin": {"a84", "b84", "a11", "b11"},
            "public": set(),
        }[role]


@pytest.fixture
def world(db: Session) -> World:
    version, codes = ensure_rule_set(db)
    a = make_operator(db, "Opérateur A")
    b = make_operator(db, "Opérateur B")
    since = datetime(2026, 3, 1, tzinfo=UTC)
    cabins = {
        "a84": make_cabin(
            db,
            a,
            LYON,
            compliance="non_compliant",
            failing={codes[2]: {"reason": "too far", "distance_m": 1234}},
            failing_since=since,
            rule_set_version=version,
        ),
        "b84": make_cabin(db, b, LYON, offset_m=(300, 0), rule_set_version=version),
        "a11": make_cabin(
            db,
            a,
            PARIS,
            compliance="incomplete",
            unknown=[codes[0]],
            rule_set_version=version,
        ),
        "b11": make_cabin(
            db,
            b,
            PARIS,
            offset_m=(0, 400),
            compliance="non_compliant",
            failing={codes[2]: {"reason": "x"}, codes[4]: {"reason": "y"}},
            failing_since=datetime(2026, 6, 1, tzinfo=UTC),
            rule_set_version=version,
        ),
    }
    keys = {
        "operator_a": bearer(make_key(db, "operator", operator_id=a)),
        "operator_b": bearer(make_key(db, "operator", operator_id=b)),
        "ars_84": bearer(make_key(db, "regulator", scope="region:84")),
        "ars_11": bearer(make_key(db, "regulator", scope="region:11")),
        "national": bearer(make_key(db, "regulator", scope="national")),
        "admin": bearer(make_key(db, "admin")),
        "public": {},
    }
    db.commit()  # releases the savepoint only; the outer transaction is rolled back
    return World(version, codes, a, b, keys, cabins)
