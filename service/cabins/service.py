"""The single write path of a cabin: validate, write, derive the commune codes, bump the
version, record the audit event, and have the rule engine re-evaluate the cabin — all in the
caller's transaction (the request's, or the importer's). Lifecycle transitions go through here
too. Nothing here commits."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from service import timespans
from service.audit import queries as audit_queries
from service.audit.models import AuditEvent
from service.audit.trail import Actor, record
from service.auth.deps import Principal
from service.auth.models import Operator
from service.cabins import queries
from service.cabins.models import Cabin
from service.cabins.records import (
    columns_of,
    confirmation_diff,
    confirmed_blocks,
    document_of,
    flat_diff,
)
from service.cabins.schemas import CabinCreate, TransitionRequest
from service.cabins.validation import (
    FieldErrors,
    LocationResult,
    check_locations,
    check_record,
    read_record,
)
from service.cabins.vocabulary import CONFIRMED_BLOCKS, TRANSITIONS
from service.errors import (
    Conflict,
    InvalidParameter,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    ValidationFailed,
)

if TYPE_CHECKING:  # the engine imports the cabin model: imported late below
    from service.rules.evaluator import Point

# A cabin's public reference: CAB- and 8 characters of Crockford's base32 (no I, L, O, U).
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

# The rule engine's module: `evaluate(session, cabin_ids)` re-evaluates those cabins.


def evaluate_rules(
    session: Session,
    cabin_ids: Sequence[uuid.UUID],
    neighbours_of: Mapping[uuid.UUID, Point | None] | None = None,
) -> None:
    """Re-evaluates these cabins against the rule set in force, in the same transaction as the
    write (design.md §2), so the response carries the new compliance status. `neighbours_of`:
    those that became or stopped being active, or moved while active (with their point before
    the write when they moved): the rules that count other cabins (SIT-10) re-evaluate the
    cabins around them too, in the same transaction."""
    from service.rules.evaluator import evaluate  # the engine imports the cabin model

    evaluate(session, list(cabin_ids), neighbours_of=neighbours_of)


def seen_by_neighbours(
    cabin_id: uuid.UUID, was_active: bool, is_active: bool, before: Point, after: Point
) -> dict[uuid.UUID, Point | None] | None:
    """What a write of one cabin changed that the cabins around can see, as `evaluate_rules`
    takes it: nothing (None) unless the cabin became or stopped being active, or moved while
    active before or after; then its point before the write when it moved."""
    moved = before != after
    if was_active == is_active and not (moved and (was_active or is_active)):
        return None
    return {cabin_id: before if moved else None}


def draw_reference() -> str:
    """A public reference from 40 random bits (one draw per cabin), not checked for use."""
    bits = int.from_bytes(secrets.token_bytes(5), "big")
    return "CAB-" + "".join(REFERENCE_ALPHABET[(bits >> shift) & 31] for shift in range(35, -1, -5))


def new_reference(session: Session) -> str:
    for _ in range(10):
        reference = draw_reference()
        if not queries.reference_taken(session, reference):
            return reference
    raise RuntimeError("could not draw a free cabin reference")  # 32^8 codes: not reachable


def validate(
    session: Session,
    data: Mapping[str, Any] | CabinCreate,
    today: date | None = None,
    *,
    stored: Cabin | None = None,
    owner: Principal | None = None,
    detail: str = "The cabin record is not valid.",
) -> tuple[CabinCreate, LocationResult]:
    """Every check of one record — type-level, record-level and against the commune layer —
    run on every field that can be read, so that one 422 lists all the failures; else the
    record and its derived commune codes. `stored`: the cabin a patch changes, whose date of
    receipt by the ARS the declaration date cannot postdate nor leave (once received, it
    stays recorded). `owner`: the key a new cabin is registered with (`owner_problems`). The
    bulk import reads and checks its rows with the same functions."""
    reading = read_record(data)
    record = reading.readable
    errors = list(reading.errors)
    location: LocationResult | None = None
    if record is not None:
        problems = check_record(record, today or timespans.today())
        problems += _receipt_problems(record, stored)
        if owner is not None:
            problems += owner_problems(session, owner, record.operator_id)
        errors += reading.without_consequences(problems)
        point = reading.location()
        if point is not None:
            location = check_locations(session, [point])[point.key]
            errors += location.errors
    if errors or reading.cabin is None or location is None:
        raise ValidationFailed(detail, errors=errors)
    return reading.cabin, location


def _receipt_problems(record: CabinCreate, stored: Cabin | None) -> FieldErrors:
    """Checked against the ARS's receipt only when a patch changes the declaration date, so a
    row recorded before this check does not block edits elsewhere in the record."""
    declared = record.declarations.ars_declaration_date
    if stored is None or declared == stored.ars_declaration_date:
        return []
    received = stored.ars_received_date
    if received and declared is None:
        return [
            {
                "field": "declarations.ars_declaration_date",
                "reason": f"the ARS recorded receiving the declaration on {received.isoformat()};"
                " its date cannot be removed",
            }
        ]
    if received and declared and declared > received:
        return [
            {
                "field": "declarations.ars_declaration_date",
                "reason": f"{declared.isoformat()} is after the ARS's receipt of the declaration,"
                f" {received.isoformat()}",
            }
        ]
    return []


def _apply(cabin: Cabin, body: CabinCreate, location: LocationResult) -> None:
    for column, value in columns_of(body).items():
        setattr(cabin, column, value)
    cabin.commune_insee = location.commune_insee
    cabin.departement_code = location.departement
    cabin.region_code = location.region
    cabin.epci_siren = location.epci
    cabin.commune_vintage = location.vintage


def _confirm(cabin: Cabin, blocks: set[str], now: datetime) -> None:
    """A block written (even unchanged) is a block confirmed (SIT-20)."""
    for block in CONFIRMED_BLOCKS:
        if block in blocks:
            setattr(cabin, f"{block}_confirmed_at", now)


def owner_problems(
    session: Session, principal: Principal, operator_id: uuid.UUID | None
) -> FieldErrors:
    """Why `operator_id` cannot own cabins written with this key: an operator key writes its
    own only (naming another is refused, leaving it out is the way), an admin key names an
    operator that exists."""
    if principal.role == "operator":
        if operator_id not in (None, principal.operator_id):
            return [{"field": "operator_id", "reason": "not your operator; leave it out"}]
        return []
    if operator_id is None:
        return [{"field": "operator_id", "reason": "required with an admin key"}]
    if session.get(Operator, operator_id) is None:
        return [{"field": "operator_id", "reason": "no such operator"}]
    return []


def owner_of(principal: Principal, operator_id: uuid.UUID | None) -> uuid.UUID:
    """The operator that owns what this key writes, once `owner_problems` found none."""
    owner = operator_id if principal.role != "operator" else principal.operator_id
    assert owner is not None
    return owner


def _unique_reference(
    session: Session, operator_id: uuid.UUID, reference: str, cabin_id: uuid.UUID | None
) -> None:
    owner = queries.operator_reference_owner(session, operator_id, reference)
    if owner is not None and owner != cabin_id:
        raise Conflict(
            f"The operator already has a cabin with reference {reference!r}.",
            errors=[{"field": "operator_reference", "reason": "already used by another cabin"}],
            cabin_id=str(owner),
        )


def create(
    session: Session,
    principal: Principal,
    data: Mapping[str, Any] | CabinCreate,
    *,
    actor: Actor | None = None,
    is_demo: bool = False,
    today: date | None = None,
) -> queries.Located:
    """Register a cabin from its record (the JSON object, or a `CabinCreate` already read)."""
    body, location = validate(session, data, today, owner=principal)
    operator_id = owner_of(principal, body.operator_id)
    _unique_reference(session, operator_id, body.operator_reference, None)
    now = datetime.now(UTC)
    cabin = Cabin(
        reference=new_reference(session),
        operator_id=operator_id,
        status="draft",
        is_demo=is_demo,
        version=1,
        created_at=now,
        updated_at=now,
    )
    _apply(cabin, body, location)
    _confirm(cabin, set(body.model_fields_set), now)
    session.add(cabin)
    session.flush()
    located = queries.Located(cabin, body.location.lon, body.location.lat)
    record(
        session,
        actor or principal.actor,
        "cabin.create",
        "cabin",
        str(cabin.id),
        {
            "reference": [None, cabin.reference],
            "status": [None, "draft"],
            **flat_diff(None, document_of(cabin, located.lon, located.lat)),
        },
    )
    evaluate_rules(session, [cabin.id])
    return located


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: objects merge, null removes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# One element of an If-Match list (RFC 9110 §8.8.3, §5.6.1): optional whitespace, an
# entity-tag (`"…"` or `W/"…"`; a comma may sit inside the quotes) or nothing (an empty
# element, which a recipient ignores), optional whitespace, then a comma or the end.
_IF_MATCH_ELEMENT = re.compile(r'[ \t]*(?:(W/)?"([\x21\x23-\x7e\x80-\xff]*)")?[ \t]*(?:,|\Z)')


def parse_if_match(value: str) -> list[tuple[bool, str]] | None:
    """`*` → None (any current representation); else the entity-tags as (weak, opaque) pairs.
    A value that is neither is a 400 naming the header (not a 412: nothing was compared)."""
    if value.strip(" \t") == "*":
        return None
    tags: list[tuple[bool, str]] = []
    position = 0
    while position < len(value):
        element = _IF_MATCH_ELEMENT.match(value, position)
        if element is None:
            tags = []
            break
        if element.group(2) is not None:
            tags.append((element.group(1) is not None, element.group(2)))
        position = element.end()
    if not tags:
        raise InvalidParameter(
            'If-Match must be * or a list of entity-tags, e.g. "3" (the ETag from a read).',
            errors=[
                {
                    "field": "If-Match",
                    "reason": f"not * nor a list of quoted entity-tags: {value[:60]!r}",
                }
            ],
        )
    return tags


def check_if_match(if_match: str | None, version: int, *, required: bool) -> None:
    """RFC 9110 If-Match with the strong comparison: `"3"` matches version 3, `W/"3"` never
    matches (a weak tag cannot vouch for the exact representation a write replaces), `*`
    matches the cabin as it is."""
    if if_match is None:
        if required:
            raise PreconditionRequired(
                "Send If-Match with the cabin's current ETag (from GET) to change it.",
                errors=[{"field": "If-Match", "reason": "required"}],
            )
        return
    tags = parse_if_match(if_match)
    current = str(version)
    if tags is None or (False, current) in tags:
        return
    if (True, current) in tags:
        detail = f'A weak entity-tag never matches If-Match: send "{current}".'
        reason = f'W/"{current}" is weak; If-Match compares strongly: send "{current}"'
    else:
        detail = f'The cabin has changed: its current ETag is "{current}". Read it again.'
        reason = f'stale; current ETag is "{current}"'
    raise PreconditionFailed(detail, errors=[{"field": "If-Match", "reason": reason}])


def _get_for_write(session: Session, principal: Principal, cabin_id: uuid.UUID) -> queries.Located:
    located = queries.get_visible(session, principal, cabin_id, for_update=True)
    if located is None:
        raise NotFound(f"No cabin {cabin_id}.")
    return located


def _changes(located: queries.Located, body: CabinCreate, location: LocationResult) -> bool:
    """Whether writing `body` would change the row: a column, the point or a derived code."""
    cabin = located.cabin
    columns = columns_of(body)
    del columns["geom"]  # compared as coordinates (the column holds a WKB element)
    derived = {
        "commune_insee": location.commune_insee,
        "departement_code": location.departement,
        "region_code": location.region,
        "epci_siren": location.epci,
        "commune_vintage": location.vintage,
    }
    return (body.location.lon, body.location.lat) != (located.lon, located.lat) or any(
        getattr(cabin, column) != value for column, value in (columns | derived).items()
    )


# How the registry says that a decommissioned cabin is frozen, wherever a change reaches one
# (PATCH, an ARS receipt, an import row).
KEPT_AS_IT_WAS = "is kept as it was; it can no longer change"


def refuse_if_decommissioned(cabin: Cabin) -> None:
    """A decommissioned cabin is kept as it was: any change to it is a 409 naming its status."""
    if cabin.status == "decommissioned":
        raise Conflict(
            f"A decommissioned cabin {KEPT_AS_IT_WAS}.",
            errors=[{"field": "status", "reason": "decommissioned"}],
        )


def _as_uuid(value: Any) -> uuid.UUID | None:
    """`value` as a UUID, or None when it is not one (so it matches no owner)."""
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        return None


def update(
    session: Session,
    principal: Principal,
    cabin_id: uuid.UUID,
    patch: dict[str, Any],
    *,
    if_match: str | None,
    actor: Actor | None = None,
    reason: str | None = None,
    today: date | None = None,
) -> queries.Located:
    """Apply a merge patch to the operator-written record; If-Match is required."""
    located = _get_for_write(session, principal, cabin_id)
    cabin = located.cabin
    check_if_match(if_match, cabin.version, required=True)
    refuse_if_decommissioned(cabin)
    if "operator_id" in patch:
        # Its own owner, as a read gives it, is no change (a read sent back whole); the id is
        # compared as a UUID, so the owner's id written in upper case is still its own.
        if _as_uuid(patch["operator_id"]) != cabin.operator_id:
            raise ValidationFailed(
                "A cabin does not change owner.",
                errors=[{"field": "operator_id", "reason": "cannot be changed"}],
            )
        patch = {key: value for key, value in patch.items() if key != "operator_id"}
    before = document_of(cabin, located.lon, located.lat)
    merged = merge_patch(before, patch)
    body, location = validate(
        session, merged, today, stored=cabin, detail="The patched cabin is not valid."
    )
    _unique_reference(session, cabin.operator_id, body.operator_reference, cabin.id)
    confirmed = confirmed_blocks(patch)
    if not confirmed and not _changes(located, body, location):
        # Nothing to write: the same cabin, version and ETag; no event, no re-evaluation.
        return located
    now = datetime.now(UTC)
    active = cabin.status == "active"  # a patch never changes the status
    neighbours = seen_by_neighbours(
        cabin.id, active, active, (located.lon, located.lat), (body.location.lon, body.location.lat)
    )
    confirmation = confirmation_diff(cabin, confirmed, now)  # before `_confirm` sets them
    _apply(cabin, body, location)
    _confirm(cabin, set(confirmed), now)
    cabin.version += 1
    cabin.updated_at = now
    session.flush()
    after = document_of(cabin, body.location.lon, body.location.lat)
    diff = flat_diff(before, after) | confirmation
    record(session, actor or principal.actor, "cabin.update", "cabin", str(cabin.id), diff, reason)
    evaluate_rules(session, [cabin.id], neighbours)
    return queries.Located(cabin, body.location.lon, body.location.lat)


_STATUS_DATE = {
    "declared": "declared_date",
    "active": "service_start_date",
    "suspended": "suspended_date",
    "decommissioned": "decommissioned_date",
}


RESUMED = "resumed_date"  # the audit diff key of a resumption (suspended → active)


def _check_order(cabin: Cabin, effective: date, resumed: date | None) -> None:
    """The lifecycle only moves forward, so a transition cannot be dated before a lifecycle
    date the cabin already holds (declared, service start, suspended, last resumption)."""
    held = {column: getattr(cabin, column) for column in _STATUS_DATE.values()}
    held[RESUMED] = resumed
    later = [
        (held_date, name) for name, held_date in held.items() if held_date and held_date > effective
    ]
    if later:
        held_date, name = max(later)
        raise ValidationFailed(
            f"A transition cannot be dated before the cabin's {name} ({held_date.isoformat()}).",
            errors=[
                {
                    "field": "date",
                    "reason": f"{effective.isoformat()} is before the cabin's {name}"
                    f" {held_date.isoformat()}",
                }
            ],
        )


def transition(
    session: Session,
    principal: Principal,
    cabin_id: uuid.UUID,
    request: TransitionRequest,
    *,
    if_match: str | None = None,
    actor: Actor | None = None,
    today: date | None = None,
) -> queries.Located:
    """Move a cabin along its lifecycle; an illegal move is a 409 naming the allowed ones."""
    located = _get_for_write(session, principal, cabin_id)
    cabin = located.cabin
    check_if_match(if_match, cabin.version, required=False)
    today = today or timespans.today()
    effective = request.date or today
    if effective > today:
        raise ValidationFailed(
            "A transition cannot be dated in the future.",
            errors=[{"field": "date", "reason": f"{effective.isoformat()} is in the future"}],
        )
    allowed = TRANSITIONS[cabin.status]
    if request.to not in allowed:
        options = ", ".join(allowed) if allowed else "none (decommissioned is final)"
        raise Conflict(
            f"The cabin is {cabin.status}: it cannot become {request.to}; allowed: {options}.",
            errors=[{"field": "to", "reason": f"allowed from {cabin.status}: {options}"}],
            allowed=list(allowed),
        )
    resuming = cabin.status == "suspended" and request.to == "active"
    resumed = queries.last_resumption(session, cabin.id) if cabin.status != "draft" else None
    _check_order(cabin, effective, resumed)
    diff: dict[str, list[Any]] = {"status": [cabin.status, request.to]}

    def set_date(column: str, value: date | None) -> None:
        old = getattr(cabin, column)
        if old != value:
            diff[column] = [old.isoformat() if old else None, value.isoformat() if value else None]
            setattr(cabin, column, value)

    column = _STATUS_DATE[request.to]
    if request.to == "active":
        if cabin.service_start_date is None:
            set_date(column, effective)
        if resuming:
            # The table keeps the first service start; a resumption's date has no column, so
            # the audit event carries it (old value: the previous resumption, if any).
            diff[RESUMED] = [resumed.isoformat() if resumed else None, effective.isoformat()]
        set_date("suspended_date", None)  # a resumed cabin is no longer suspended
    else:
        set_date(column, effective)
    point = (located.lon, located.lat)
    neighbours = seen_by_neighbours(
        cabin.id, cabin.status == "active", request.to == "active", point, point
    )
    cabin.status = request.to
    cabin.version += 1
    cabin.updated_at = datetime.now(UTC)
    session.flush()
    record(
        session,
        actor or principal.actor,
        "cabin.transition",
        "cabin",
        str(cabin.id),
        diff,
        request.reason,
    )
    evaluate_rules(session, [cabin.id], neighbours)
    return located


def history(
    session: Session, principal: Principal, cabin_id: uuid.UUID, *, after: int | None, limit: int
) -> Sequence[AuditEvent]:
    """The cabin's audit events after the event `after`, oldest first, at most `limit`."""
    if queries.get_visible(session, principal, cabin_id) is None:
        raise NotFound(f"No cabin {cabin_id}.")
    return audit_queries.events_for(session, "cabin", str(cabin_id), after=after, limit=limit)
