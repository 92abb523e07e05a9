"""Reading the audit trail: the events of one target, oldest first."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.models import AuditEvent


def events_for(
    session: Session, target_type: str, target_id: str, *, after: int | None, limit: int
) -> Sequence[AuditEvent]:
    """One page of a target's events, oldest first, after the event id `after` (keyset: the
    index on (target_type, target_id, id))."""
    stmt = select(AuditEvent).where(
        AuditEvent.target_type == target_type, AuditEvent.target_id == target_id
    )
    if after is not None:
        stmt = stmt.where(AuditEvent.id > after)
    return session.scalars(stmt.order_by(AuditEvent.id).limit(limit)).all()
