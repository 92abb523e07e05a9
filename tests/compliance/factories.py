"""Cabins, verdicts, derived compliance and verdict changes written straight into the test's
transaction with SQLAlchemy (no rule engine), placed on real communes of the loaded layers."""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Text, cast, func, literal, literal_column, select, update
from sqlalchemy.orm import Session

from service.cabins.models import Cabin
from service.cabins.service import REFERENCE_ALPHABET
from service.rules.models import CabinCompliance, Rule, RuleSet, Verdict, VerdictChange, Xid8
from service.territories.models import Commune, Layer, MedicalZone
from service.territories.queries import current_layer_ids

CODES = [f"SIT-{n:02d}" for n in range(1, 21)]

# Real communes: Lyon, Villeurbanne (région 84) and Paris, Versailles (région 11).
LYON, VILLEURBANNE, PARIS, VERSAILLES = "69123", "69266", "75056", "78646"


def ensure_rule_set(db: Session) -> tuple[str, list[str]]:
    """The rule set in force and its codes; a minimal one is published when none is."""
    version = db.scalar(select(RuleSet.version).where(RuleSet.status == "published"))
    if version is None:
        version = "test.1"
        db.add(RuleSet(version=version, title="test rules", status="published"))
        db.flush()
        for code in CODES:
            db.add(
                Rule(
                    rule_set_version=version,
                    code=code,
                    title=f"rule {code}",
                    basis="project",
                    sources=[],
                    severity="error",
                    description="test",
                )
            )
        db.flush()
    codes = list(db.scalars(select(Rule.code).where(Rule.rule_set_version == version)))
    return version, sorted(codes)


@dataclass(frozen=True)
class Place:
    insee: str
    departement: str
    region: str
    epci: str | None
    lon: float
    lat: float
    population: int


def place(db: Session, insee: str) -> Place:
    row = db.execute(
        select(
            Commune.insee,
            Commune.departement,
            Commune.region,
            Commune.epci,
            func.ST_X(Commune.point),
            func.ST_Y(Commune.point),
            Commune.population,
        ).where(Commune.insee == insee, Commune.layer_id.in_(current_layer_ids("commune")))
    ).one()
    return Place(*row)


def make_cabin(
    db: Session,
    operator_id: uuid.UUID,
    insee: str,
    *,
    status: str = "active",
    offset_m: tuple[float, float] = (0.0, 0.0),
    compliance: str | None = "compliant",
    accessibility: str = "accessible",
    failing: dict[str, dict[str, Any]] | None = None,
    unknown: list[str] | None = None,
    failing_since: datetime | None = None,
    rule_set_version: str = "test.1",
) -> Cabin:
    """A cabin at the commune's population point (moved by `offset_m` east, north metres),
    with pass verdicts for every rule but the `failing` ones (code → evidence)."""
    p = place(db, insee)
    dx, dy = offset_m
    lat = p.lat + dy / 111_320.0
    lon = p.lon + dx / (111_320.0 * math.cos(math.radians(p.lat)))
    reference = "CAB-" + "".join(random.choice(REFERENCE_ALPHABET) for _ in range(8))
    cabin = Cabin(
        id=uuid.uuid4(),
        reference=reference,
        operator_id=operator_id,
        operator_reference=f"T-{reference}",
        status=status,
        geom=f"SRID=4326;POINT({lon} {lat})",
        declared_insee=insee,
        commune_insee=p.insee,
        departement_code=p.departement,
        region_code=p.region,
        epci_siren=p.epci,
        venue_kind="pharmacie_officine",
        venue_name=f"Pharmacie {reference}",
    )
    db.add(cabin)
    db.flush()
    now = datetime.now(UTC)
    failing = failing or {}
    since = failing_since or now
    for code in CODES:
        fails = code in failing
        outcome = "fail" if fails else ("unknown" if code in (unknown or []) else "pass")
        db.add(
            Verdict(
                cabin_id=cabin.id,
                rule_code=code,
                outcome=outcome,
                severity="error",
                evidence=failing.get(code, {"reason": "ok"}),
                failing_since=since if fails else None,
                evaluated_at=now,
                rule_set_version=rule_set_version,
            )
        )
    if compliance is not None:
        db.add(
            CabinCompliance(
                cabin_id=cabin.id,
                compliance_status=compliance,
                accessibility_label=accessibility,
                failing_errors=sorted(failing),
                unknown_errors=sorted(unknown or []),
                failing_warnings=[],
                updated_at=now,
            )
        )
    db.flush()
    return cabin


# The transaction just below the snapshot's xmin: it has ended. The test's own transaction
# stays open until teardown, so a change stamped with its xid (the column's default) would
# never be served; the feed serves this one as a change committed by that transaction.
ENDED_XID = "(pg_snapshot_xmin(pg_current_snapshot())::text::numeric - 1)::text::xid8"


def add_change(
    db: Session,
    cabin: Cabin,
    code: str,
    old: str | None,
    new: str,
    version: str = "test.1",
    *,
    xid: int | None = None,
) -> int:
    """A verdict change written by a transaction that has ended: the last one to have
    ended, else the one `xid` names (0: a change from before the feed ordered by transaction).
    """
    change = VerdictChange(
        cabin_id=cabin.id,
        rule_code=code,
        old_outcome=old,
        new_outcome=new,
        severity="error",
        evidence={"reason": f"{old} -> {new}"},
        rule_set_version=version,
        changed_at=datetime.now(UTC),
        xid=literal_column(ENDED_XID) if xid is None else cast(literal(str(xid)), Xid8),
    )
    db.add(change)
    db.flush()
    return change.id


def ended_xid(db: Session) -> int:
    """The xid `add_change` stamps now."""
    return int(db.scalar(select(literal_column(ENDED_XID + "::text"))))


def feed_end(db: Session) -> str:
    """The cursor after every change the feed serves now (on cabins that still exist)."""
    row = db.execute(
        select(cast(VerdictChange.xid, Text), VerdictChange.id)
        .join(Cabin, Cabin.id == VerdictChange.cabin_id)
        .where(VerdictChange.xid < func.pg_snapshot_xmin(func.pg_current_snapshot()))
        .order_by(VerdictChange.xid.desc(), VerdictChange.id.desc())
        .limit(1)
    ).first()
    return f"{row[0]}.{row[1]}" if row else "0.0"


def medical_zoning(db: Session, zones: dict[str, str]) -> None:
    """Make a zoning layer with these communes (INSEE → ZIP / ZAC / none) the only current one."""
    db.execute(update(Layer).where(Layer.kind == "medical_zone").values(is_current=False))
    layer = Layer(
        kind="medical_zone",
        vintage="test",
        source="test",
        synthetic=True,
        row_count=len(zones),
        is_current=True,
    )
    db.add(layer)
    db.flush()
    for insee, zone in zones.items():
        db.add(MedicalZone(layer_id=layer.id, vintage="test", insee=insee, zone=zone))
    db.flush()
