"""Appending many audit events at once: the same hash chain as `service.audit.trail.record`
(same lock, same hash), computed in order in memory and written with one COPY."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.audit.models import AuditEvent
from service.audit.trail import CHAIN_LOCK_KEY, Actor, event_hash

COLUMNS = (
    "at",
    "actor_client_id",
    "actor",
    "action",
    "target_type",
    "target_id",
    "diff",
    "reason",
    "prev_hash",
    "hash",
)


def append_many(
    session: Session,
    actor: Actor,
    events: Sequence[tuple[str, str, str, dict[str, Any]]],
    reason: str | None = None,
) -> int:
    """Append `(action, target_type, target_id, diff)` events in order, chained to the current
    tail, in the caller's transaction. Diffs hold JSON values only (as JSONB gives them back),
    so the hash computed here is the one `registry audit verify` recomputes."""
    if not events:
        return 0
    session.execute(select(func.pg_advisory_xact_lock(CHAIN_LOCK_KEY)))
    prev_hash = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    at = datetime.now(UTC)
    client_id = str(actor.client_id) if actor.client_id else None
    connection = session.connection().connection.driver_connection
    assert connection is not None
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY audit_event ({', '.join(COLUMNS)}) FROM STDIN") as copy,
    ):
        for action, target_type, target_id, diff in events:
            digest = event_hash(
                at=at,
                actor=actor.name,
                actor_client_id=actor.client_id,
                action=action,
                target_type=target_type,
                target_id=target_id,
                diff=diff,
                reason=reason,
                prev_hash=prev_hash,
            )
            copy.write_row(
                (
                    at,
                    client_id,
                    actor.name,
                    action,
                    target_type,
                    target_id,
                    orjson.dumps(diff).decode(),
                    reason,
                    prev_hash,
                    digest,
                )
            )
            prev_hash = digest
    return len(events)
