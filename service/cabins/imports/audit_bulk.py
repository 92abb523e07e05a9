"""Appending many audit events at once: the same hash chain as `service.audit.trail.record`
(same lock, same hash), computed in order in memory and written with one COPY."""

from __future__ import annotations

import hashlib
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


def as_jsonb_returns(value: Any) -> Any:
    """The JSON value as a jsonb column gives it back: the same, but for -0.0, which a
    PostgreSQL numeric stores as 0.0 (hashing -0.0 would break the chain on verification)."""
    if isinstance(value, float):
        return 0.0 if value == 0 else value
    if isinstance(value, list):
        return [as_jsonb_returns(item) for item in value]
    if isinstance(value, dict):
        return {key: as_jsonb_returns(item) for key, item in value.items()}
    return value


def orjson_writes_as_json(value: Any) -> bool:
    """Whether orjson writes this JSON value exactly as the json module does: everything but
    a float Python writes in exponent form (|x| < 1e-4 or >= 1e16) and an integer beyond 64
    bits (strings, escapes and key order agree)."""
    if isinstance(value, float):
        return value == 0 or 1e-4 <= abs(value) < 1e16
    if isinstance(value, int) and not isinstance(value, bool):
        return -(2**63) <= value < 2**64
    if isinstance(value, list):
        return all(orjson_writes_as_json(item) for item in value)
    if isinstance(value, dict):
        return all(orjson_writes_as_json(item) for item in value.values())
    return True


def fast_event_hash(
    *,
    at_iso: str,
    actor: str,
    actor_client_id: str | None,
    action: str,
    target_type: str,
    target_id: str,
    diff: Any,
    reason: str | None,
    prev_hash: str | None,
) -> str:
    """`service.audit.trail.event_hash`, with orjson writing the same canonical text (sorted
    keys, no spaces, UTF-8 unescaped), for a diff where `orjson_writes_as_json` holds."""
    canonical = orjson.dumps(
        {
            "at": at_iso,
            "actor": actor,
            "actor_client_id": actor_client_id,
            "action": action,
            "target_type": target_type,
            "target_id": target_id,
            "diff": diff,
            "reason": reason,
            "prev_hash": prev_hash,
        },
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(canonical).hexdigest()


def append_many(
    session: Session,
    actor: Actor,
    events: Sequence[tuple[str, str, str, dict[str, Any] | str]],
    reason: str | None = None,
) -> int:
    """Append `(action, target_type, target_id, diff)` events in order, chained to the current
    tail, in the caller's transaction. A diff is a dict of JSON values (as JSONB gives them
    back), or the JSON text PostgreSQL rendered for a jsonb diff, so the hash computed here is
    the one `registry audit verify` recomputes."""
    if not events:
        return 0
    session.execute(select(func.pg_advisory_xact_lock(CHAIN_LOCK_KEY)))
    prev_hash = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    at = datetime.now(UTC)
    client_id = str(actor.client_id) if actor.client_id else None
    at_iso = at.astimezone(UTC).isoformat()
    connection = session.connection().connection.driver_connection
    assert connection is not None
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY audit_event ({', '.join(COLUMNS)}) FROM STDIN") as copy,
    ):
        for action, target_type, target_id, diff in events:
            if isinstance(diff, str):
                diff_text, diff_value = diff, orjson.loads(diff)
            else:
                diff_value = as_jsonb_returns(diff)
                diff_text = orjson.dumps(diff_value).decode()
            if orjson_writes_as_json(diff_value):
                digest = fast_event_hash(
                    at_iso=at_iso,
                    actor=actor.name,
                    actor_client_id=client_id,
                    action=action,
                    target_type=target_type,
                    target_id=target_id,
                    diff=diff_value,
                    reason=reason,
                    prev_hash=prev_hash,
                )
            else:
                digest = event_hash(
                    at=at,
                    actor=actor.name,
                    actor_client_id=actor.client_id,
                    action=action,
                    target_type=target_type,
                    target_id=target_id,
                    diff=diff_value,
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
                    diff_text,
                    reason,
                    prev_hash,
                    digest,
                )
            )
            prev_hash = digest
    return len(events)
