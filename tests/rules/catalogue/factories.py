"""Builders for the catalogue tests: cabins inserted directly at a point of a real commune
(the real communes are loaded by the session set-up), small reference layers made current
inside the test transaction, and a runner calling one rule on chosen cabins."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session
from stdnum import luhn

from service.auth.models import Operator
from service.cabins.models import Cabin
from service.rules.catalogue.base import REGISTRY, RuleInput

PARIS = (2.3522, 48.8566, "75056")  # Hôtel de Ville
LYON = (4.8357, 45.7640, "69123")
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def valid_siren(rng: random.Random | None = None) -> str:
    body = "".join(str((rng or random).randint(0, 9)) for _ in range(8))
    return body + luhn.calc_check_digit(body)


def valid_siret() -> str:
    base = valid_siren() + "".join(str(random.randint(0, 9)) for _ in range(4))
    return base + luhn.calc_check_digit(base)


def make_operator(db: Session) -> uuid.UUID:
    operator = Operator(name="Opérateur de test", siren=valid_siren())
    db.add(operator)
    db.flush()
    return operator.id


def commune(db: Session, insee: str) -> Any:
    return db.execute(
        text(
            "SELECT c.insee, c.departement, c.region, c.epci, c.vintage FROM commune c"
            " JOIN layer l ON l.id = c.layer_id AND l.is_current AND l.kind = 'commune'"
            " WHERE c.insee = :insee"
        ),
        {"insee": insee},
    ).one()


def commune_point(db: Session, insee: str) -> tuple[float, float, str]:
    """The population point of a commune of the current layer, as (lon, lat, insee)."""
    lon, lat = db.execute(
        text(
            "SELECT ST_X(c.point), ST_Y(c.point) FROM commune c JOIN layer l ON l.id = c.layer_id"
            " AND l.kind = 'commune' AND l.is_current WHERE c.insee = :insee"
        ),
        {"insee": insee},
    ).one()
    return lon, lat, insee


def make_cabin(
    db: Session,
    at: tuple[float, float, str] = PARIS,
    *,
    operator_id: uuid.UUID | None = None,
    offset_m: tuple[float, float] = (0.0, 0.0),
    derived_insee: str | None = None,
    **columns: Any,
) -> uuid.UUID:
    """A valid active cabin at `at` (lon, lat, declared INSEE), moved by `offset_m` metres east
    and north; the derived commune codes come from `derived_insee` (default: the declared)."""
    lon, lat, insee = at
    east, north = offset_m
    lat2 = lat + north / 111_195.0
    lon2 = lon + east / (111_195.0 * __import__("math").cos(__import__("math").radians(lat)))
    ref = commune(db, derived_insee or insee)
    values: dict[str, Any] = {
        "reference": "CAB-" + uuid.uuid4().hex[:8].upper(),
        "operator_id": operator_id or make_operator(db),
        "operator_reference": uuid.uuid4().hex[:12],
        "status": "active",
        "geom": f"SRID=4326;POINT({lon2} {lat2})",
        "declared_insee": insee,
        "commune_insee": ref.insee,
        "departement_code": ref.departement,
        "region_code": ref.region,
        "epci_siren": ref.epci,
        "commune_vintage": ref.vintage,
        "venue_kind": "pharmacie_officine",
        "siting": {},
        "care_links": [],
        "accessibility": {},
    }
    values.update(columns)
    cabin = Cabin(**values)
    db.add(cabin)
    db.flush()
    return cabin.id


def fresh_layer(
    db: Session,
    kind: str,
    *,
    scope: str | None = None,
    synthetic: bool = False,
    vintage: str = "test-2026",
    reference: str | None = None,
    beside: bool = False,
) -> int:
    """A new current layer of `kind`; every other layer of that kind stops being current
    (inside the test transaction only), unless `beside` (a layer of another scope)."""
    if not beside:
        db.execute(text("UPDATE layer SET is_current = false WHERE kind = :kind"), {"kind": kind})
    return int(
        db.execute(
            text(
                "INSERT INTO layer (kind, scope, vintage, source, synthetic, reference,"
                " row_count, is_current) VALUES (:kind, :scope, :vintage, 'test', :synthetic,"
                " :reference, 0, true) RETURNING id"
            ),
            {
                "kind": kind,
                "scope": scope,
                "vintage": vintage,
                "synthetic": synthetic,
                "reference": reference,
            },
        ).scalar_one()
    )


def add_zone(db: Session, layer_id: int, insee: str, zone: str, apl: float | None = None) -> None:
    db.execute(
        text(
            "INSERT INTO medical_zone (layer_id, vintage, insee, zone, apl)"
            " VALUES (:layer, 'test-2026', :insee, :zone, :apl)"
        ),
        {"layer": layer_id, "insee": insee, "zone": zone, "apl": apl},
    )


def add_zone_rouge(db: Session, layer_id: int, epci: str) -> None:
    db.execute(
        text(
            "INSERT INTO zone_rouge (layer_id, vintage, epci_siren)"
            " VALUES (:layer, 'test-2026', :epci)"
        ),
        {"layer": layer_id, "epci": epci},
    )


def add_health_site(
    db: Session,
    layer_id: int,
    finess: str,
    lon: float,
    lat: float,
    *,
    commune_only: bool = False,
    siret: str | None = None,
    category: int = 620,
) -> None:
    db.execute(
        text(
            "INSERT INTO health_site (layer_id, vintage, finess, name, category, siret,"
            " commune_only_geocode, geom) VALUES (:layer, 'test-2026', :finess, :name,"
            " :category, :siret, :commune_only, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))"
        ),
        {
            "layer": layer_id,
            "finess": finess,
            "name": f"Site {finess}",
            "category": category,
            "siret": siret,
            "commune_only": commune_only,
            "lon": lon,
            "lat": lat,
        },
    )


def add_cpts(db: Session, layer_id: int, cpts_id: str, members: list[str]) -> None:
    db.execute(
        text(
            "INSERT INTO cpts (layer_id, vintage, cpts_id, name, member_insee)"
            " VALUES (:layer, 'test-2026', :id, :name, :members)"
        ),
        {"layer": layer_id, "id": cpts_id, "name": f"CPTS {cpts_id}", "members": members},
    )


def run_rule(
    db: Session,
    code: str,
    ids: list[uuid.UUID],
    at: date | None = None,
    *,
    few: bool = False,
    **params: Any,
) -> dict[uuid.UUID, tuple[str, dict[str, Any]]]:
    """The rule's (outcome, evidence) for each of `ids`, evaluated on those cabins only (as
    for a write when `few`)."""
    definition = REGISTRY[code]
    cabins = select(Cabin.__table__).where(Cabin.__table__.c.id.in_(ids)).subquery("cabins")
    statement = definition.implementation(
        RuleInput(
            cabins=cabins,
            params=definition.params_model(**params),
            at=at or NOW.date(),
            few=few,
        )
    )
    rows = db.execute(statement).all()
    assert sorted(str(r.cabin_id) for r in rows) == sorted(str(i) for i in ids), "one row per cabin"
    return {r.cabin_id: (r.outcome, r.evidence) for r in rows}
