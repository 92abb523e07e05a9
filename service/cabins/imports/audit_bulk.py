"""Appending many audit events at once: the same hash chain as `service.audit.trail.record`
(same lock, same hash), computed in order in memory and written with one COPY."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session

from service.audit.trail import Actor, CanonicalHasher, event_hash, lock_tail

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


class CanonicalJson(str):
    """JSON text written exactly as the trail's hash writes a diff (`json.dumps` with sorted
    keys, no spaces, UTF-8 unescaped): hashed as it is (`CanonicalHasher`), never parsed."""


def _copy_text(value: str | None) -> str:
    """A field of COPY's text format."""
    if value is None:
        return "\\N"
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def append_many(
    session: Session,
    actor: Actor,
    events: Sequence[tuple[str, str, str, dict[str, Any] | str]],
    reason: str | None = None,
) -> int:
    """Append `(action, target_type, target_id, diff)` events in order, chained to the current
    tail, in the caller's transaction. A diff is a dict of JSON values (as JSONB gives them
    back), the JSON text of one, or a `CanonicalJson` text; the hash computed here is the one
    `registry audit verify` recomputes."""
    if not events:
        return 0
    prev_hash = lock_tail(session)
    at = datetime.now(UTC)
    client_id = str(actor.client_id) if actor.client_id else None
    at_iso = at.astimezone(UTC).isoformat()
    hasher = CanonicalHasher(at, actor, reason)
    fixed = "\t".join(_copy_text(v) for v in (at_iso, client_id, actor.name))
    reason_field = _copy_text(reason)
    connection = session.connection().connection.driver_connection
    assert connection is not None
    lines: list[str] = []
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY audit_event ({', '.join(COLUMNS)}) FROM STDIN") as copy,
    ):
        for action, target_type, target_id, diff in events:
            if isinstance(diff, CanonicalJson):
                diff_text = str(diff)
                digest = hasher.hash(
                    action=action,
                    target_type=target_type,
                    target_id=target_id,
                    diff=diff_text,
                    prev_hash=prev_hash,
                )
            else:
                if isinstance(diff, str):
                    diff_text, diff_value = diff, orjson.loads(diff)
                else:
                    diff_value = as_jsonb_returns(diff)
                    diff_text = orjson.dumps(diff_value).decode()
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
            lines.append(
                "\t".join(
                    (
                        fixed,
                        _copy_text(action),
                        _copy_text(target_type),
                        _copy_text(target_id),
                        _copy_text(diff_text),
                        reason_field,
                        _copy_text(prev_hash),
                        digest,
                    )
                )
            )
            prev_hash = digest
            if len(lines) >= 2000:
                copy.write("\n".join(lines) + "\n")
                lines.clear()
        if lines:
            copy.write("\n".join(lines) + "\n")
    return len(events)
