"""Appending to and verifying the audit trail. Each event's hash covers its content and the
previous event's hash, so editing or deleting a past event breaks every later link. Appends
are serialised by a transaction-scoped advisory lock, so two writers never chain to the same
predecessor."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import bindparam, cast, func, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from service.audit.models import AuditEvent

# pg_advisory_xact_lock key of the chain's tail (any constant unique to this use).
CHAIN_LOCK_KEY = 0x61756469745F6576  # "audit_ev"


@dataclass(frozen=True)
class Actor:
    """Who writes: an API client, or a system actor such as the command line."""

    name: str
    client_id: uuid.UUID | None = None


CLI_ACTOR = Actor(name="cli")


def _normalise(session: Session, diff: Mapping[str, Any]) -> dict[str, Any]:
    """The diff exactly as JSONB will give it back (dates and UUIDs as strings, numbers as
    PostgreSQL renders them), so the hash computed now is the hash verified later."""
    plain = json.loads(json.dumps(diff, default=str))
    result = session.scalar(select(cast(bindparam("diff", plain, type_=JSONB), JSONB)))
    return dict(result or {})


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


def event_hash(
    *,
    at: datetime,
    actor: str,
    actor_client_id: uuid.UUID | None,
    action: str,
    target_type: str,
    target_id: str,
    diff: Mapping[str, Any],
    reason: str | None,
    prev_hash: str | None,
) -> str:
    """SHA-256 of the event's canonical JSON: keys sorted, no spaces, UTF-8 unescaped, as
    `json.dumps` writes it (orjson writes the same text faster where it can)."""
    fields = {
        "at": at.astimezone(UTC).isoformat(),
        "actor": actor,
        "actor_client_id": str(actor_client_id) if actor_client_id else None,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "diff": diff,
        "reason": reason,
        "prev_hash": prev_hash,
    }
    if orjson_writes_as_json(diff):
        canonical = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)
    else:
        canonical = json.dumps(
            fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    return hashlib.sha256(canonical).hexdigest()


class CanonicalHasher:
    """`event_hash` for events sharing their time, actor and reason whose diffs are already
    canonical JSON text (keys sorted, no spaces, UTF-8 unescaped: as `event_hash` writes a
    diff): the canonical event is written around the diff's text, never parsing it."""

    def __init__(self, at: datetime, actor: Actor, reason: str | None) -> None:
        client_id = str(actor.client_id) if actor.client_id else None
        # the keys in the order json.dumps sorts them: action, actor, actor_client_id, at,
        # diff, prev_hash, reason, target_id, target_type
        self._head = (
            f',"actor":{_json(actor.name)},"actor_client_id":{_json(client_id)}'
            f',"at":{_json(at.astimezone(UTC).isoformat())},"diff":'
        )
        self._reason = f',"reason":{_json(reason)},"target_id":'

    def hash(
        self, *, action: str, target_type: str, target_id: str, diff: str, prev_hash: str | None
    ) -> str:
        canonical = (
            f'{{"action":{_json(action)}{self._head}{diff}'
            f',"prev_hash":{_json(prev_hash)}{self._reason}{_json(target_id)}'
            f',"target_type":{_json(target_type)}}}'
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


def _json(value: str | None) -> str:
    return orjson.dumps(value).decode()


def hold_chain(session: Session) -> None:
    """Takes the chain's lock for the transaction before appending: for a writer that takes
    another lock first that cabin writes take after it (the rule set in force)."""
    session.execute(select(func.pg_advisory_xact_lock(CHAIN_LOCK_KEY)))


def lock_tail(session: Session) -> str | None:
    """Takes the chain's lock for the transaction (appends are serialised) and returns the
    hash of its last event, the one the next event chains to (None on an empty trail)."""
    hold_chain(session)
    return session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))


def record(
    session: Session,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: str,
    diff: Mapping[str, Any],
    reason: str | None = None,
) -> AuditEvent:
    """Append one event, chained to the current tail, in the caller's transaction."""
    prev_hash = lock_tail(session)
    at = datetime.now(UTC)
    clean = _normalise(session, diff)
    event = AuditEvent(
        at=at,
        actor=actor.name,
        actor_client_id=actor.client_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        diff=clean,
        reason=reason,
        prev_hash=prev_hash,
        hash=event_hash(
            at=at,
            actor=actor.name,
            actor_client_id=actor.client_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            diff=clean,
            reason=reason,
            prev_hash=prev_hash,
        ),
    )
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class Verification:
    checked: int
    broken_id: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def verify(session: Session, batch: int = 5000) -> Verification:
    """Walk the chain in order; the first event whose link or hash does not hold is reported."""
    prev_hash: str | None = None
    checked = 0
    result = session.execute(
        text(
            "SELECT id, at, actor, actor_client_id, action, target_type, target_id, diff,"
            " reason, prev_hash, hash FROM audit_event ORDER BY id"
        ).execution_options(yield_per=batch)
    )
    for row in result:
        if row.prev_hash != prev_hash:
            return Verification(
                checked, row.id, f"its prev_hash does not match event before it ({prev_hash})"
            )
        expected = event_hash(
            at=row.at,
            actor=row.actor,
            actor_client_id=row.actor_client_id,
            action=row.action,
            target_type=row.target_type,
            target_id=row.target_id,
            diff=row.diff,
            reason=row.reason,
            prev_hash=row.prev_hash,
        )
        if expected != row.hash:
            return Verification(checked, row.id, "its content does not match its hash")
        prev_hash = row.hash
        checked += 1
    return Verification(checked)
