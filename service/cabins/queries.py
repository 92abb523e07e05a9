"""Every SQL statement of the cabins domain that is not the location check: reading one cabin
with its coordinates, the visibility of cabins to a caller, the filtered keyset listing, the
last resumption date kept on the audit trail."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, func, or_, select, true
from sqlalchemy.orm import Session

from service.audit.models import AuditEvent
from service.auth.deps import Principal
from service.cabins.models import Cabin
from service.rules.models import CabinCompliance


def visible_to(principal: Principal) -> ColumnElement[bool]:
    """Operators see their own cabins; regional regulators their région; the rest all."""
    if principal.role == "operator":
        return Cabin.operator_id == principal.operator_id
    if principal.role == "regulator" and principal.region:
        return Cabin.region_code == principal.region
    return true()


def _with_point() -> Select[Any]:
    return select(Cabin, func.ST_X(Cabin.geom), func.ST_Y(Cabin.geom))


@dataclass(frozen=True)
class Located:
    cabin: Cabin
    lon: float
    lat: float


def get_visible(
    session: Session, principal: Principal, cabin_id: uuid.UUID, *, for_update: bool = False
) -> Located | None:
    """One cabin the caller may see (row-locked for a write), else None: the caller answers
    404 either way, so another operator's cabin is indistinguishable from a missing one."""
    stmt = _with_point().where(Cabin.id == cabin_id, visible_to(principal))
    if for_update:
        # FOR NO KEY UPDATE: a write never changes the id, so the foreign-key checks of
        # verdicts and compliance written meanwhile (a publication, a full pass: FOR KEY
        # SHARE) need not wait for it, nor it for them
        stmt = stmt.with_for_update(of=Cabin, key_share=True)
    row = session.execute(stmt).first()
    return Located(row[0], row[1], row[2]) if row else None


def last_resumption(session: Session, cabin_id: uuid.UUID) -> date | None:
    """The date of the cabin's last resumption (suspended → active). The table has no column
    for it: the transition's audit event keeps it under `resumed_date` (the index on
    (target_type, target_id, id) finds the cabin's events, newest first)."""
    value = session.scalar(
        select(AuditEvent.diff["resumed_date"][1].astext)
        .where(
            AuditEvent.target_type == "cabin",
            AuditEvent.target_id == str(cabin_id),
            AuditEvent.action == "cabin.transition",
            AuditEvent.diff.has_key("resumed_date"),
        )
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    return date.fromisoformat(value) if value else None


def reference_taken(session: Session, reference: str) -> bool:
    return bool(session.scalar(select(exists().where(Cabin.reference == reference))))


def operator_reference_owner(
    session: Session, operator_id: uuid.UUID, operator_reference: str
) -> uuid.UUID | None:
    return session.scalar(
        select(Cabin.id).where(
            Cabin.operator_id == operator_id, Cabin.operator_reference == operator_reference
        )
    )


@dataclass(frozen=True)
class CabinFilters:
    status: str | None = None
    commune: str | None = None
    departement: str | None = None
    region: str | None = None
    venue_kind: str | None = None
    reference: str | None = None


def list_visible(
    session: Session,
    principal: Principal,
    filters: CabinFilters,
    *,
    after: uuid.UUID | None,
    limit: int,
) -> Sequence[Located]:
    """One page in id order, starting after the cursor (keyset: the primary key index)."""
    stmt = _with_point().where(visible_to(principal))
    if filters.status:
        stmt = stmt.where(Cabin.status == filters.status)
    if filters.commune:
        stmt = stmt.where(Cabin.commune_insee == filters.commune)
    if filters.departement:
        stmt = stmt.where(Cabin.departement_code == filters.departement)
    if filters.region:
        stmt = stmt.where(Cabin.region_code == filters.region)
    if filters.venue_kind:
        stmt = stmt.where(Cabin.venue_kind == filters.venue_kind)
    if filters.reference:
        stmt = stmt.where(
            or_(
                Cabin.reference == filters.reference,
                Cabin.operator_reference == filters.reference,
            )
        )
    if after is not None:
        stmt = stmt.where(Cabin.id > after)
    rows = session.execute(stmt.order_by(Cabin.id).limit(limit)).all()
    return [Located(r[0], r[1], r[2]) for r in rows]


def compliance_of(
    session: Session, cabin_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, CabinCompliance]:
    """The derived compliance of these cabins (fresh from the database: the evaluator writes
    it with set-based statements the session's identity map does not see)."""
    if not cabin_ids:
        return {}
    rows = session.scalars(
        select(CabinCompliance)
        .where(CabinCompliance.cabin_id.in_(cabin_ids))
        .execution_options(populate_existing=True)
    )
    return {row.cabin_id: row for row in rows}
