"""Demo data for `make run` (`registry demo load`, idempotent): a demo operator, a few hundred
demo cabins over real communes (flagged `is_demo`, "DÉMO" in their venue names) written through
the bulk importer, two thirds of them brought to `active` through audited transitions, and
three keys — the demo operator's, a national regulator's and an admin's — printed once, in
the log, when they are created (only their hashes are kept)."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from stdnum import luhn

from service.audit.trail import Actor
from service.auth.models import ApiClient, Operator
from service.auth.service import create_client, create_operator
from service.cabins.importer import ImportOptions, run_import
from service.cabins.imports.audit_bulk import append_many
from service.territories.queries import CURRENT_COMMUNE_LAYER_IDS

log = logging.getLogger("service.cabins.demo")

DEMO_ACTOR = Actor(name="demo")
DEMO_OPERATOR_NAME = "DÉMO — Cabines de démonstration"
DEMO_SIREN = "732829320"  # a SIREN with a valid Luhn key, reserved for the demo operator
DEMO_CABINS = 300
DEMO_SEED = 2026
DEMO_CLIENTS = (
    ("demo-operator", "operator", None),
    ("demo-regulator", "regulator", "national"),
    ("demo-admin", "admin", None),
)
KINDS = ["pharmacie_officine", "msp", "centre_sante", "mairie_france_services", "cabinet_medical"]
HOURS = ["Mo-Fr 09:00-19:00", "Mo-Fr 08:30-12:30,14:00-19:00; Sa 09:00-12:00", "Mo-Sa 09:00-20:00"]

# Points inside the most populous communes (ST_GeneratePoints with a seed: always the same).
_PLACES = f"""
SELECT c.insee, c.name, ST_X(p.geom) AS lon, ST_Y(p.geom) AS lat, c.postcodes[1] AS postcode
FROM (
  SELECT insee, name, postcodes, geom FROM commune
  WHERE geom IS NOT NULL
    AND layer_id IN {CURRENT_COMMUNE_LAYER_IDS}
  ORDER BY population DESC NULLS LAST, insee
  LIMIT :communes
) c
CROSS JOIN LATERAL ST_Dump(ST_GeneratePoints(c.geom, :per_commune, :seed)) p
ORDER BY c.insee, p.path
"""


@dataclass(frozen=True)
class DemoResult:
    operator_id: Any
    keys: dict[str, str]
    created: int
    updated: int
    unchanged: int
    activated: int


def _siret(rng: random.Random) -> str:
    base = DEMO_SIREN + "".join(str(rng.randint(0, 9)) for _ in range(4))
    return base + luhn.calc_check_digit(base)


def demo_records(session: Session, count: int = DEMO_CABINS) -> list[dict[str, Any]]:
    """The demo cabins as import records (the shape of POST /v1/cabins)."""
    rng = random.Random(DEMO_SEED)
    places = session.execute(
        text(_PLACES), {"communes": (count + 1) // 2, "per_commune": 2, "seed": DEMO_SEED}
    ).all()[:count]
    records = []
    for i, place in enumerate(places, start=1):
        accessible = rng.random() < 0.6
        hours = rng.choice(HOURS)
        siret = _siret(rng)
        records.append(
            {
                "operator_reference": f"DEMO-{i:04d}",
                "location": {
                    "lon": round(place.lon, 6),
                    "lat": round(place.lat, 6),
                    "declared_insee": place.insee,
                    "address": {
                        "number": str(rng.randint(1, 120)),
                        "street": rng.choice(["rue de la République", "place de la Mairie"]),
                        **({"postcode": place.postcode} if place.postcode else {}),
                        "commune_name": place.name[:120],
                    },
                },
                "venue": {
                    "kind": rng.choice(KINDS),
                    "name": f"DÉMO — site {i} à {place.name}"[:500],
                    "siret": siret,
                    "building_regime": rng.choice(["new", "existing"]),
                    "cabin_count": 1,
                },
                "opening_hours": hours,
                "siting": {
                    "placement": "indoor_room",
                    "directly_reachable_from_public_space": rng.random() < 0.3,
                    "enclosure": rng.choice(["closed_cabin", "closed_room"]),
                    "sound_insulated": True,
                    "commercial_solicitation_free": rng.random() < 0.8,
                    "responsible_person": {
                        "name_or_role": "pharmacien titulaire",
                        "trained_on_date": "2025-09-01",
                        "bound_by_secrecy": True,
                    },
                    "staff_hours": hours,
                    "assistance_modes": [rng.choice(["pharmacist", "nurse", "trained_staff"])],
                    "devices": ["oximeter", "thermometer", "blood_pressure_monitor"],
                },
                "declarations": {
                    "ars_declaration_date": "2026-02-02",
                    "ars_declaration_reference": f"ARS-DEMO-{i:04d}",
                    "cpam_informed_date": "2026-02-10",
                    **({"cpts_informed_date": "2026-02-15"} if rng.random() < 0.7 else {}),
                },
                **_demo_care(rng, siret),
                "fees": _demo_fees(rng),
                "accessibility": _demo_accessibility(rng, accessible),
            }
        )
    return records


def _demo_care(rng: random.Random, siret: str) -> dict[str, Any]:
    """Most demo cabins name an assisting professional (an RPPS number the registry cannot check
    against a directory, so SIT-11 stays unknown and such a cabin is `incomplete` at best: the
    honest outcome on synthetic health layers) and their teleconsultation provider."""
    care: dict[str, Any] = {}
    if rng.random() < 0.85:
        rpps = "10" + "".join(str(rng.randint(0, 9)) for _ in range(9))
        care["care_links"] = [
            {"kind": "professionnel_rpps", "name": "infirmier·e coordinateur·rice", "rpps": rpps}
        ]
    if rng.random() < 0.9:
        care["provider"] = {
            "name": "DÉMO Téléconsultation locale",
            "siret": siret,
            "kind": "local_practitioners",
        }
    return care


def _demo_fees(rng: random.Random) -> dict[str, Any]:
    fees: dict[str, Any] = {
        "base_fee_eur": 30,
        "sector": "sector_1",
        "depassements_possible": False,
        "shown_on_site": rng.random() < 0.8,
    }
    if rng.random() < 0.75:  # the rest leave the notice incomplete (SIT-15 fails)
        fees |= {
            "optional_services": [],
            "venue_access_fee_eur": 0,
            "info_url": "https://demo.cabin-registry.example/tarifs",
        }
    return fees


def _demo_accessibility(rng: random.Random, accessible: bool) -> dict[str, Any]:
    """Accessible demo cabins carry every measurement SIT-16..18 read, within the thresholds,
    so finder apps have `accessible` cabins to find; the others are narrower and declare less."""
    if accessible:
        return {
            "entree_plain_pied": True,
            "entree_largeur_mini": rng.choice([90, 100, 120]),
            "threshold_height_cm": 0,
            "path_width_cm": rng.choice([120, 140, 160]),
            "cabin_door_clear_width_cm": rng.choice([83, 90, 100]),
            "turning_diameter_cm": 150,
            "usage_space_width_cm": 90,
            "usage_space_depth_cm": 140,
            "controls_height_min_cm": 90,
            "controls_height_max_cm": 130,
            "desk_height_cm": 75,
            "knee_clearance_height_cm": 72,
            "knee_clearance_width_cm": 65,
            "knee_clearance_depth_cm": 35,
            "seat_or_transfer_possible": True,
            "hearing_loop": rng.choice([True, False]),
            "stationnement_pmr": rng.choice([True, None]),
            "registre_url": "https://demo.cabin-registry.example/registre-accessibilite",
        }
    return {
        "entree_plain_pied": rng.random() < 0.3,
        "entree_largeur_mini": rng.choice([70, 77, 83]),
        "cabin_door_clear_width_cm": rng.choice([70, 75]),
        "turning_diameter_cm": rng.choice([110, 120, None]),
        "hearing_loop": rng.choice([True, False, None]),
        "stationnement_pmr": rng.choice([True, None]),
    }


def _demo_operator(session: Session) -> Operator:
    operator = session.scalar(select(Operator).where(Operator.siren == DEMO_SIREN))
    if operator is None:
        operator = create_operator(session, DEMO_ACTOR, name=DEMO_OPERATOR_NAME, siren=DEMO_SIREN)
        operator.is_demo = True
        session.flush()
    return operator


def _demo_keys(session: Session, operator: Operator) -> dict[str, str]:
    """Create the demo clients that do not exist yet; their keys, only at creation."""
    keys = {}
    for name, role, scope in DEMO_CLIENTS:
        exists = session.scalar(select(ApiClient.id).where(ApiClient.name == name))
        if exists is not None:
            continue
        created = create_client(
            session,
            DEMO_ACTOR,
            role=role,
            name=name,
            operator_id=operator.id if role == "operator" else None,
            scope=scope,
        )
        keys[name] = created.key
    return keys


_ACTIVATE = """
UPDATE cabin SET status = 'active', declared_date = :day, service_start_date = :day,
       version = version + 1, updated_at = now()
WHERE operator_id = :operator_id AND is_demo AND status = 'draft'
  AND operator_reference = ANY(:refs)
RETURNING id
"""


def _activate(session: Session, operator_id: Any, refs: list[str]) -> list[Any]:
    """Bring the chosen demo cabins from draft to active (declared, then active), audited."""
    day = date(2026, 3, 1)
    ids = [
        r.id
        for r in session.execute(
            text(_ACTIVATE), {"day": day, "operator_id": operator_id, "refs": refs}
        )
    ]
    events = [
        (
            "cabin.transition",
            "cabin",
            str(cabin_id),
            {
                "status": ["draft", "active"],
                "declared_date": [None, day.isoformat()],
                "service_start_date": [None, day.isoformat()],
            },
        )
        for cabin_id in ids
    ]
    append_many(session, DEMO_ACTOR, events, "demo data")
    if ids:
        from service.cabins.service import evaluate_rules

        # they became active: the cabins around count them (SIT-10)
        evaluate_rules(session, ids, {cabin_id: None for cabin_id in ids})
    return ids


def load_demo(session: Session, print_key: Callable[[str], None] | None = None) -> DemoResult:
    """Idempotent: a second run changes nothing and prints no key."""
    operator = _demo_operator(session)
    keys = _demo_keys(session, operator)
    records = demo_records(session)
    body = b"\n".join(orjson.dumps(r) for r in records)
    report = run_import(
        session,
        operator_id=operator.id,
        actor=DEMO_ACTOR,
        body=body,
        kind="ndjson",
        options=ImportOptions(mode="atomic", is_demo=True),
    )
    if report.state != "succeeded":
        raise RuntimeError(f"the demo cabins do not import: {report.errors[:3]}")
    to_activate = [r["operator_reference"] for i, r in enumerate(records) if i % 3 != 2]
    activated = _activate(session, operator.id, to_activate)
    for name, key in keys.items():
        line = f"demo key (shown once) {name}: {key}"
        (print_key or log.warning)(line)
    return DemoResult(
        operator.id, keys, report.created, report.updated, report.unchanged, len(activated)
    )


def load_demo_step() -> None:
    """The `setup_steps` entry (only when demo data is wanted)."""
    import sys

    from service.cli import cli_session

    with cli_session() as session:
        started = datetime.now(UTC)
        result = load_demo(session, print_key=lambda line: print(line, file=sys.stderr))
        session.commit()
    print(
        f"demo: {result.created} cabins created, {result.updated} updated,"
        f" {result.unchanged} unchanged, {result.activated} activated"
        f" in {(datetime.now(UTC) - started).total_seconds():.1f} s",
        file=sys.stderr,
    )
