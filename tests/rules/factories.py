"""Cabins written straight into the table (no write path, no evaluation), a helper that
runs one rule's statement over chosen cabins, and a rule set with a regional profile, for the
rule and engine tests."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from service.audit.trail import CLI_ACTOR
from service.cabins.models import Cabin
from service.rules import rulesets
from service.rules.catalogue import REGISTRY
from service.rules.catalogue.base import RuleInput
from service.rules.evaluator import cabins_selectable
from service.rules.schemas import Profile, ProfileRule, RuleSetCreate
from tests.auth.factories import make_operator

PARIS = (2.3522, 48.8566, "75056")

_counter = 0


def good_siting() -> dict[str, Any]:
    return {
        "placement": "indoor_room",
        "directly_reachable_from_public_space": False,
        "enclosure": "closed_room",
        "sound_insulated": True,
        "waiting_area_dedicated": True,
        "commercial_solicitation_free": True,
        "responsible_person": {
            "name_or_role": "pharmacien titulaire",
            "trained_on_date": "2025-10-01",
            "bound_by_secrecy": True,
        },
        "staff_hours": "Mo-Fr 08:30-19:30; Sa 09:00-13:00",
        "assistance_modes": ["pharmacist"],
        "devices": ["stethoscope_connected", "otoscope_connected", "oximeter"],
    }


def insert_cabin(
    db: Session,
    operator_id: uuid.UUID | None = None,
    *,
    lon: float = PARIS[0],
    lat: float = PARIS[1],
    **columns: Any,
) -> uuid.UUID:
    """A declared, well-sited pharmacy cabin in Paris; `columns` override any column."""
    global _counter
    _counter += 1
    values: dict[str, Any] = {
        "reference": f"CAB-T{uuid.uuid4().hex[:7].upper()}",
        "operator_id": operator_id or make_operator(db),
        "operator_reference": f"T-{_counter}-{uuid.uuid4().hex[:6]}",
        "status": "active",
        "service_start_date": date(2026, 3, 1),
        "geom": f"SRID=4326;POINT({lon} {lat})",
        "declared_insee": PARIS[2],
        "commune_insee": PARIS[2],
        "departement_code": "75",
        "region_code": "11",
        "venue_kind": "pharmacie_officine",
        "ars_declaration_date": date(2026, 2, 1),
        "ars_declaration_reference": "ARS-IDF-2026-0001",
        "cpam_informed_date": date(2026, 2, 2),
        "cpts_informed_date": date(2026, 2, 3),
        "opening_hours": "Mo-Fr 09:00-19:00; Sa 09:00-12:30",
        "siting": good_siting(),
    }
    values.update(columns)
    cabin = Cabin(**values)
    db.add(cabin)
    db.flush()
    return cabin.id


def run_rule(
    db: Session, code: str, cabin_ids: list[uuid.UUID], at: date | None = None, **params: Any
) -> dict[uuid.UUID, tuple[str, dict[str, Any]]]:
    """{cabin id: (outcome, evidence)} of one rule's bare statement with these parameters."""
    definition = REGISTRY[code]
    statement = definition.implementation(
        RuleInput(
            cabins=cabins_selectable(cabin_ids),
            params=definition.params_model.model_validate(params),
            at=at or date(2026, 11, 23),
        )
    )
    rows = db.execute(statement).all()
    assert len(rows) == len(cabin_ids), "one row per cabin"
    return {row.cabin_id: (row.outcome, row.evidence) for row in rows}


def outcome_of(db: Session, code: str, cabin_id: uuid.UUID, **params: Any) -> tuple[str, dict]:
    return run_rule(db, code, [cabin_id], **params)[cabin_id]


def publish_ara_strict(db: Session, at: datetime) -> None:
    """Rule set 2025.3 in force from `at`: the set in force with the profile `ara-strict`,
    under which SIT-03 is an error in Auvergne-Rhône-Alpes (région 84)."""
    rulesets.derive(
        db,
        RuleSetCreate(
            version="2025.3",
            title="strict Auvergne-Rhône-Alpes",
            profiles=[
                Profile(
                    name="ara-strict",
                    regions=["84"],
                    rules={"SIT-03": ProfileRule(severity="error")},
                )
            ],
        ),
        actor=CLI_ACTOR,
    )
    rulesets.publish(db, "2025.3", actor=CLI_ACTOR, at=at)
