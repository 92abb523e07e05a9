"""Reading the audit trail: the events of one target, oldest first."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.models import AuditEvent


def events_for(
    session: Session, target_type: str, target_id: str, limit: int = 1000
) -> Sequence[AuditEvent]:
    return session.scalars(
        select(AuditEvent)
        .where(AuditEvent.target_type == target_type, AuditEvent.target_id == target_id)
        .order_by(AuditEvent.id)
        .limit(limit)
    ).all()
