"""Cabins for the public-endpoint tests, inserted directly with SQLAlchemy: an operator and
active (or other status) cabins at chosen points, with chosen accessibility facts."""

from __future__ import annotations

import math
import random
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session
from stdnum import luhn

from service.auth.models import Operator
from service.cabins.models import Cabin

PARIS = (2.3522, 48.8566)  # Hôtel de Ville
LYON = (4.8357, 45.7640)


def valid_siren() -> str:
    body = "".join(str(random.randint(0, 9)) for _ in range(8))
    return body + luhn.calc_check_digit(body)


def make_operator(db: Session, name: str = "Opérateur public-test", **columns: Any) -> uuid.UUID:
    operator = Operator(name=name, siren=valid_siren(), **columns)
    db.add(operator)
    db.flush()
    return operator.id


def moved(
    at: tuple[float, float], east_m: float = 0.0, north_m: float = 0.0
) -> tuple[float, float]:
    lon, lat = at
    return (
        lon + east_m / (111_195.0 * math.cos(math.radians(lat))),
        lat + north_m / 111_195.0,
    )


def make_cabin(
    db: Session,
    operator_id: uuid.UUID,
    at: tuple[float, float] = PARIS,
    *,
    status: str = "active",
    insee: str = "75056",
    accessibility: dict[str, Any] | None = None,
    **columns: Any,
) -> Cabin:
    lon, lat = at
    values: dict[str, Any] = {
        "reference": "CAB-" + uuid.uuid4().hex[:8].upper(),
        "operator_id": operator_id,
        "operator_reference": "OP-REF-" + uuid.uuid4().hex[:10],
        "status": status,
        "geom": f"SRID=4326;POINT({lon} {lat})",
        "declared_insee": insee,
        "commune_insee": insee,
        "venue_kind": "pharmacie_officine",
        "venue_name": "Pharmacie de test",
        "address_street": "rue de Rivoli",
        "address_postcode": "75004",
        "address_commune_name": "Paris",
        "opening_hours": "Mo-Sa 09:00-19:00",
        "accessibility": accessibility or {},
        "fees": {"base_fee_eur": 30.0, "sector": "sector_1", "depassements_possible": False},
    }
    values.update(columns)
    cabin = Cabin(**values)
    db.add(cabin)
    db.flush()
    return cabin


def published_compliance(cabin_id: uuid.UUID, accessibility_label: str) -> Any:
    """The row the rule engine publishes for a compliant cabin with this accessibility label
    (not added: the caller adds it to its session)."""
    from service.rules.models import CabinCompliance

    return CabinCompliance(
        cabin_id=cabin_id,
        compliance_status="compliant",
        accessibility_label=accessibility_label,
        failing_errors=[],
        unknown_errors=[],
        failing_warnings=[],
        updated_at=datetime.now(UTC),
    )


WHEELCHAIR_OK = {
    "entree_plain_pied": True,
    "cabin_door_clear_width_cm": 90,
    "turning_diameter_cm": 150,
    "hearing_loop": True,
    "sign_language_interpreting": False,
}
