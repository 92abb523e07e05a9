"""Committed test data for the browser tests (the live server reads through its own
connections, so the data cannot live in a rolled-back transaction): an operator and another,
their keys, an ARS key for Auvergne-Rhône-Alpes (84), active cabins in régions 84 and 11 with
known accessibility, and their verdicts and derived compliance. Written directly in the tables
(no audit events, which are append-only) and deleted afterwards."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from service.auth.keys import generate_key
from service.auth.models import ApiClient, Operator
from service.cabins.imports.models import ImportJob
from service.cabins.models import Cabin
from service.cabins.records import columns_of
from service.cabins.schemas import CabinCreate
from service.rules.models import CabinCompliance, Verdict, VerdictChange
from tests.auth.factories import valid_siren, valid_siret
from tests.cabins.factories import cabin_body

# (operator key, reference, venue, lon, lat, declared INSEE, département, région, accessibility,
#  failing rules)
CABINS: list[dict[str, Any]] = [
    {
        "ref": "WEB-LYON-1",
        "venue": "Pharmacie Bellecour",
        "at": (4.8320, 45.7578, "69123", "69", "84"),
        "town": "Lyon",
        "access": {
            "entree_plain_pied": True,
            "cabin_door_clear_width_cm": 90,
            "turning_diameter_cm": 160,
            "hearing_loop": True,
        },
        "failing": [],
    },
    {
        "ref": "WEB-LYON-2",
        "venue": "Pharmacie des Terreaux",
        "at": (4.8340, 45.7675, "69123", "69", "84"),
        "town": "Lyon",
        "access": {"entree_plain_pied": False, "cabin_door_clear_width_cm": 70},
        "failing": [
            (
                "SIT-05",
                {
                    "reason": "the cabin stands outdoors; it must be indoors",
                    "placement": "outdoor",
                    "expected": "indoor",
                },
            )
        ],
    },
    {
        "ref": "WEB-LYON-3",
        "venue": "Maison de santé de la Croix-Rousse",
        "at": (4.8300, 45.7760, "69123", "69", "84"),
        "town": "Lyon",
        "access": {"hearing_loop": True, "sign_language_interpreting": True},
        "failing": [],
    },
    {
        "ref": "WEB-GRENOBLE-1",
        "venue": "Pharmacie Victor Hugo",
        "at": (5.7245, 45.1885, "38185", "38", "84"),
        "town": "Grenoble",
        "access": {"entree_plain_pied": True},
        "failing": [("SIT-08", {"enclosure": "open_borne", "expected": "closed"})],
    },
    {
        "ref": "WEB-PARIS-1",
        "venue": "Pharmacie de Rivoli",
        "at": (2.3522, 48.8566, "75056", "75", "11"),
        "town": "Paris",
        "access": {"entree_plain_pied": True, "cabin_door_clear_width_cm": 85},
        "failing": [("SIT-03", {"venue_kind": "grande_surface"})],
        "other_operator": True,
    },
]


@dataclass
class WebData:
    operator_key: str
    other_operator_key: str
    ars_84_key: str
    national_key: str
    cabin_ids: dict[str, uuid.UUID] = field(default_factory=dict)
    references: dict[str, str] = field(default_factory=dict)  # our ref -> public CAB- ref
    operator_ids: list[uuid.UUID] = field(default_factory=list)
    client_ids: list[uuid.UUID] = field(default_factory=list)


def _client(session: Session, data: WebData, role: str, **kwargs: Any) -> str:
    new = generate_key()
    client = ApiClient(
        id=uuid.uuid4(),
        name=f"web test {role}",
        key_prefix=new.prefix,
        key_hash=new.hash,
        role=role,
        active=True,
        **kwargs,
    )
    session.add(client)
    data.client_ids.append(client.id)
    return new.key


def _cabin(session: Session, operator_id: uuid.UUID, spec: dict[str, Any], n: int) -> Cabin:
    lon, lat, insee, departement, region = spec["at"]
    body = cabin_body(
        spec["ref"],
        location__lon=lon,
        location__lat=lat,
        location__declared_insee=insee,
        location__address={
            "number": str(n),
            "street": "rue de la République",
            "commune_name": spec["town"],
        },
        venue__name=spec["venue"],
        venue__siret=valid_siret(),
        accessibility=spec["access"],
        fees={
            "base_fee_eur": 30,
            "sector": "sector_1",
            "depassements_possible": False,
            "venue_access_fee_eur": 0,
        },
    )
    body["location"]["address"].pop("postcode", None)
    now = datetime.now(UTC)
    cabin = Cabin(
        id=uuid.uuid4(),
        reference=f"CAB-WEB{n:05d}",
        operator_id=operator_id,
        status="active",
        service_start_date=now.date(),
        version=1,
        created_at=now,
        updated_at=now,
        commune_insee=insee,
        departement_code=departement,
        region_code=region,
        **columns_of(CabinCreate.model_validate(body)),
    )
    session.add(cabin)
    return cabin


def _verdicts(session: Session, cabin: Cabin, failing: list[tuple[str, dict[str, Any]]]) -> None:
    since = datetime.now(UTC) - timedelta(days=40)
    for code, evidence in failing:
        session.add(
            Verdict(
                cabin_id=cabin.id,
                rule_code=code,
                outcome="fail",
                severity="error",
                evidence=evidence,
                failing_since=since,
                evaluated_at=since,
                rule_set_version="2026.1",
            )
        )
    session.add(
        CabinCompliance(
            cabin_id=cabin.id,
            compliance_status="non_compliant" if failing else "compliant",
            accessibility_label="unknown",
            failing_errors=[code for code, _ in failing],
            unknown_errors=[],
            failing_warnings=[],
            updated_at=since,
        )
    )


OPERATOR_NAMES = ("Cabines du Rhône (test)", "Autre opérateur (test)")


def remove_leftovers(engine: Engine) -> None:
    """What an interrupted earlier run may have left (its fixed references would collide)."""
    with Session(engine) as session:
        operator_ids = list(
            session.scalars(select(Operator.id).where(Operator.name.in_(OPERATOR_NAMES)))
        )
        cabin_ids = list(
            session.scalars(select(Cabin.id).where(Cabin.operator_id.in_(operator_ids)))
        )
        client_ids = list(
            session.scalars(select(ApiClient.id).where(ApiClient.name.like("web test %")))
        )
    if operator_ids or client_ids:
        leftovers = WebData("", "", "", "", operator_ids=operator_ids, client_ids=client_ids)
        leftovers.cabin_ids = {str(n): cabin_id for n, cabin_id in enumerate(cabin_ids)}
        remove(engine, leftovers)


def create(engine: Engine) -> WebData:
    remove_leftovers(engine)
    with Session(engine) as session:
        mine = Operator(id=uuid.uuid4(), name=OPERATOR_NAMES[0], siren=valid_siren())
        other = Operator(id=uuid.uuid4(), name=OPERATOR_NAMES[1], siren=valid_siren())
        session.add_all([mine, other])
        session.flush()
        data = WebData(
            operator_key="",
            other_operator_key="",
            ars_84_key="",
            national_key="",
            operator_ids=[mine.id, other.id],
        )
        data.operator_key = _client(session, data, "operator", operator_id=mine.id)
        data.other_operator_key = _client(session, data, "operator", operator_id=other.id)
        data.ars_84_key = _client(session, data, "regulator", scope="region:84")
        data.national_key = _client(session, data, "regulator", scope="national")
        for n, spec in enumerate(CABINS, start=1):
            owner = other.id if spec.get("other_operator") else mine.id
            cabin = _cabin(session, owner, spec, n)
            session.flush()
            _verdicts(session, cabin, spec["failing"])
            data.cabin_ids[spec["ref"]] = cabin.id
            data.references[spec["ref"]] = cabin.reference
        session.commit()
    return data


def remove(engine: Engine, data: WebData) -> None:
    """Deletes every row `create` wrote, and whatever the tests attached to those cabins."""
    with Session(engine) as session:
        ids = list(data.cabin_ids.values())
        session.execute(delete(VerdictChange).where(VerdictChange.cabin_id.in_(ids)))
        session.execute(delete(Verdict).where(Verdict.cabin_id.in_(ids)))
        session.execute(delete(CabinCompliance).where(CabinCompliance.cabin_id.in_(ids)))
        session.execute(delete(Cabin).where(Cabin.operator_id.in_(data.operator_ids)))
        session.execute(delete(ImportJob).where(ImportJob.operator_id.in_(data.operator_ids)))
        session.execute(delete(ApiClient).where(ApiClient.id.in_(data.client_ids)))
        session.execute(delete(Operator).where(Operator.id.in_(data.operator_ids)))
        session.commit()
