"""An ARS records that it received a cabin's declaration: the receipt date (never in the
future, never before the operator's ARS declaration date, which must be recorded) and the ARS's
reference go on the cabin, the cabin's version moves on, the change is written to the audit
trail, and the rule engine re-evaluates the cabin — all in the caller's transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from service import timespans
from service.audit.trail import record
from service.auth.deps import Principal
from service.cabins import queries as cabin_queries
from service.cabins.service import evaluate_rules, refuse_if_decommissioned
from service.errors import Conflict, NotFound, ValidationFailed
from service.rules.models import CabinCompliance

ACTION = "cabin.declaration_receipt"


def record_receipt(
    session: Session,
    principal: Principal,
    cabin_id: uuid.UUID,
    reference: str,
    received: date,
    today: date | None = None,
) -> tuple[cabin_queries.Located, str | None]:
    """Returns the cabin and its compliance status after re-evaluation. A cabin the caller may
    not see (another région's) is a 404, as a missing one is."""
    located = cabin_queries.get_visible(session, principal, cabin_id, for_update=True)
    if located is None:
        raise NotFound(f"No cabin {cabin_id}.")
    cabin = located.cabin
    today = today or timespans.today()
    if received > today:
        raise ValidationFailed(
            "A declaration cannot be received in the future.",
            errors=[{"field": "date", "reason": f"{received.isoformat()} is in the future"}],
        )
    refuse_if_decommissioned(cabin)
    declared = cabin.ars_declaration_date
    if declared is None:
        # A receipt acknowledges a declaration the registry knows: with no declaration date
        # there is nothing to date it against (and nothing for SIT-01 to read), so the
        # operator records its declaration first.
        raise Conflict(
            "The cabin records no ARS declaration: its operator records the declaration date"
            " before the ARS records its receipt.",
            errors=[
                {
                    "field": "declarations.ars_declaration_date",
                    "reason": "not recorded on the cabin; a receipt acknowledges a declaration",
                }
            ],
        )
    if received < declared:
        raise ValidationFailed(
            "A declaration cannot be received before it was made.",
            errors=[
                {
                    "field": "date",
                    "reason": f"{received.isoformat()} is before the cabin's"
                    f" declarations.ars_declaration_date {declared.isoformat()}",
                }
            ],
        )
    reference = reference.strip()
    diff: dict[str, list[str | None]] = {}
    if cabin.ars_received_date != received:
        old = cabin.ars_received_date
        diff["declarations.ars_received_date"] = [
            old.isoformat() if old else None,
            received.isoformat(),
        ]
        cabin.ars_received_date = received
    if cabin.ars_declaration_reference != reference:
        diff["declarations.ars_declaration_reference"] = [
            cabin.ars_declaration_reference,
            reference,
        ]
        cabin.ars_declaration_reference = reference
    if diff:
        cabin.version += 1
        cabin.updated_at = datetime.now(UTC)
        session.flush()
        record(session, principal.actor, ACTION, "cabin", str(cabin.id), diff)
        evaluate_rules(session, [cabin.id])
    status = session.scalar(
        select(CabinCompliance.compliance_status).where(CabinCompliance.cabin_id == cabin.id)
    )
    return located, status
