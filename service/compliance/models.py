"""The regulator views' own tables: per cabin, what the summary counts — its compliance status
and its failing rules as one integer bitmask — kept by triggers on `cabin_compliance`
(migration 0008), so a summary over 100,000 cabins tests bits instead of searching two text
arrays per rule and cabin; and the cabins' changes of région, written by a trigger on `cabin`
(migration 0018), which the change feed serves to the régions a cabin left and entered."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base
from service.rules.models import Xid8

# Rule codes SIT-01 … SIT-62 have a bit: SIT-nn is bit nn (a stable public identifier, never
# reused, so a stored mask never changes meaning). The same pattern is in the SQL function
# `compliance_rule_bits` of migration 0008; a code without a bit is counted from the arrays.
RULE_BIT_PATTERN = r"SIT-(0[1-9]|[1-5][0-9]|6[0-2])"
_RULE_BIT = re.compile(RULE_BIT_PATTERN)


def rule_bit(code: str) -> int | None:
    """The bit of a rule code in `compliance_tally.failing`, or None when it has none."""
    match = _RULE_BIT.fullmatch(code)
    return int(match.group(1)) if match else None


class ComplianceTally(Base):
    """A copy of `cabin_compliance` reduced to what the summary counts, one row per evaluated
    cabin, written only by the triggers of `cabin_compliance`."""

    __tablename__ = "compliance_tally"

    cabin_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cabin.id", ondelete="CASCADE"), primary_key=True
    )
    compliance_status: Mapped[str] = mapped_column(String(16))
    failing: Mapped[int] = mapped_column(
        BigInteger,
        comment="bit n set when rule SIT-nn fails (error or warning severity)",
    )


class CabinRegionChange(Base):
    """Append-only: one row each time a cabin's région changes (its point moved into another
    région), written by the trigger `cabin_region_change` on `cabin` whatever writes it. Its
    id comes from `verdict_change`'s sequence and its `xid` is the writing transaction's, as a
    verdict change's: the feed serves both in one `(xid, id)` order."""

    __tablename__ = "cabin_region_change"
    __table_args__ = (
        Index(None, "cabin_id", "xid", "id"),
        Index(None, "xid", "id"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger,
        server_default=text("nextval('verdict_change_id_seq'::regclass)"),
        primary_key=True,
        comment="from verdict_change's sequence: one numbering for the change feed",
    )
    xid: Mapped[str] = mapped_column(
        Xid8(),
        server_default=text("pg_current_xact_id()"),
        comment="the transaction that moved the cabin; sorts the feed",
    )
    cabin_id: Mapped[uuid.UUID] = mapped_column()
    old_region: Mapped[str | None] = mapped_column(String(3))
    new_region: Mapped[str | None] = mapped_column(String(3))
    changed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("clock_timestamp()")
    )
