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
class Break:
    """An event that does not verify, and why, in words naming the event."""

    event_id: int
    problem: str


# A walk lists this many broken events at most (and counts them all).
LISTED_BREAKS = 20


@dataclass(frozen=True)
class Verification:
    checked: int
    """Events verified before the first break (all of them when none is broken)."""
    breaks: tuple[Break, ...] = ()
    broken_total: int = 0
    walked: int = 0
    last_id: int | None = None
    last_hash: str | None = None

    @property
    def ok(self) -> bool:
        return not self.breaks


def _described(row: Any) -> str:
    at = row.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"event {row.id} ({row.action} of {row.target_type} {row.target_id} at {at} by {row.actor})"
    )


def verify(session: Session, batch: int = 5000) -> Verification:
    """Walk the chain in order. Each event's hash must cover its content, and its prev_hash be
    the stored hash of the event before it; an event that fails either is a break. The walk
    goes on after a break (each event checked against its stored neighbour), so every broken
    event is found, not only the first."""
    prev_hash: str | None = None
    prev_id: int | None = None
    checked = walked = total = 0
    breaks: list[Break] = []
    result = session.execute(
        text(
            "SELECT id, at, actor, actor_client_id, action, target_type, target_id, diff,"
            " reason, prev_hash, hash FROM audit_event ORDER BY id"
        ).execution_options(yield_per=batch)
    )
    for row in result:
        walked += 1
        problems = []
        if row.prev_hash != prev_hash:
            if prev_id is None:
                problems.append(
                    f"it is the first event but its prev_hash is {row.prev_hash}: the events"
                    " before it were deleted"
                )
            else:
                problems.append(
                    f"it does not chain to event {prev_id}, the one before it: events between"
                    " them were deleted, or one of the two was edited (its prev_hash is"
                    f" {row.prev_hash}, event {prev_id}'s hash {prev_hash})"
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
            problems.append(
                "its content does not match its hash: a field was changed after it was written"
            )
        if problems:
            total += 1
            if len(breaks) < LISTED_BREAKS:
                breaks.append(Break(row.id, f"{_described(row)}: {'; '.join(problems)}"))
        elif not breaks:
            checked += 1
        prev_hash, prev_id = row.hash, row.id
    return Verification(
        checked,
        tuple(breaks),
        broken_total=total,
        walked=walked,
        last_id=prev_id,
        last_hash=prev_hash,
    )
