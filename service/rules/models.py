"""Tables of the rule engine: versioned rule sets and their rules, the current verdict per
cabin × rule, the append-only history of outcome changes (and of a severity changed alone),
and each cabin's derived compliance status and accessibility label."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql.base import ischema_names
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import UserDefinedType

from service.cabins.vocabulary import sql_in
from service.db import Base

RULE_SET_STATUSES = ("draft", "published", "retired")
BASES = ("text", "reco", "project")
SEVERITIES = ("error", "warning")
OUTCOMES = ("pass", "fail", "unknown", "not_applicable")
COMPLIANCE_STATUSES = ("compliant", "non_compliant", "incomplete")
ACCESSIBILITY_LABELS = ("accessible", "partial", "not_accessible", "unknown")


class RuleSet(Base):
    """One version of the rule catalogue. Exactly one published set is in force at a time: the
    one published last; publishing retires the previous one (its `valid_to` is set)."""

    __tablename__ = "rule_set"
    __table_args__ = (
        CheckConstraint(sql_in("status", RULE_SET_STATUSES), name="status_known"),
        Index(
            "uq_rule_set_in_force",
            "status",
            unique=True,
            postgresql_where="status = 'published'",
        ),
    )

    version: Mapped[str] = mapped_column(String(32), primary_key=True, comment="e.g. 2026.1")
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), server_default="draft")
    valid_from: Mapped[date | None] = mapped_column(Date, comment="set when published")
    valid_to: Mapped[date | None] = mapped_column(Date, comment="set when retired")
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    profiles = mapped_column(
        JSONB,
        nullable=False,
        server_default="[]",
        comment="regional profiles: [{name, regions, rules: {code: {severity, parameters}}}]",
    )
    source_file: Mapped[str | None] = mapped_column(Text, comment="the repository file, if any")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Rule(Base):
    """One rule of one rule set: its texts, severity and validated parameters."""

    __tablename__ = "rule"
    __table_args__ = (
        CheckConstraint(sql_in("basis", BASES), name="basis_known"),
        CheckConstraint(sql_in("severity", SEVERITIES), name="severity_known"),
    )

    rule_set_version: Mapped[str] = mapped_column(
        ForeignKey("rule_set.version", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(16), primary_key=True, comment="e.g. SIT-03")
    title: Mapped[str] = mapped_column(Text)
    basis: Mapped[str] = mapped_column(String(8), comment="text, reco or project")
    sources: Mapped[list[str]] = mapped_column(
        ARRAY(Text), comment="fact ids of domain-rules.md, e.g. A3"
    )
    severity: Mapped[str] = mapped_column(String(8))
    parameters = mapped_column(JSONB, nullable=False, server_default="{}")
    enabled: Mapped[bool] = mapped_column(Boolean, server_default="true")
    description: Mapped[str] = mapped_column(Text)


class Verdict(Base):
    """The current outcome of one rule for one cabin. Rewritten only when the outcome, the
    evidence (its `fingerprint`), the severity or the profile changes; `evaluated_at` and
    `rule_set_version` say when and under which rule set the outcome, evidence, severity or
    profile last changed."""

    __tablename__ = "verdict"
    __table_args__ = (
        CheckConstraint(sql_in("outcome", OUTCOMES), name="outcome_known"),
        CheckConstraint(sql_in("severity", SEVERITIES), name="severity_known"),
        Index(None, "rule_code", "outcome"),
    )

    cabin_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cabin.id", ondelete="CASCADE"), primary_key=True
    )
    rule_code: Mapped[str] = mapped_column(String(16), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(8), comment="as applied (profile included)")
    evidence = mapped_column(JSONB, nullable=False)
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    evaluated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    rule_set_version: Mapped[str] = mapped_column(String(32))
    profile: Mapped[str | None] = mapped_column(String(64), comment="regional profile applied")
    fingerprint: Mapped[int | None] = mapped_column(
        BigInteger, comment="hash of what the evidence was built from (null: not yet computed)"
    )


class Xid8(UserDefinedType[str]):
    """PostgreSQL's 64-bit transaction id (never wraps), read and written as its digits."""

    cache_ok = True

    def get_col_spec(self, **kw: object) -> str:
        return "XID8"


# So that reflection (alembic's drift check) reads the column as this type, not an unknown one.
ischema_names["xid8"] = Xid8


class VerdictChange(Base):
    """Append-only: one row each time a cabin's outcome for a rule changes (the first
    evaluation included, with `old_outcome` null), or its severity alone (the same old and new
    outcome: the as-of reads skip it). The change feed serves them in `(xid, id)`
    order (`service.compliance.queries.changes`): ids are taken in one order and committed in
    another, the writing transactions' ids tell which changes can no longer be preceded."""

    __tablename__ = "verdict_change"
    __table_args__ = (
        Index(None, "cabin_id", "rule_code", "changed_at"),
        Index(None, "xid", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    xid: Mapped[str] = mapped_column(
        Xid8(),
        server_default=text("pg_current_xact_id()"),
        comment="the transaction that wrote the change (0: written before); sorts the feed",
    )
    cabin_id: Mapped[uuid.UUID] = mapped_column()
    rule_code: Mapped[str] = mapped_column(String(16))
    old_outcome: Mapped[str | None] = mapped_column(String(16))
    new_outcome: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(8))
    evidence = mapped_column(JSONB, nullable=False)
    rule_set_version: Mapped[str] = mapped_column(String(32))
    profile: Mapped[str | None] = mapped_column(String(64))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class CabinCompliance(Base):
    """A cabin's derived status, recomputed from its verdicts after each evaluation."""

    __tablename__ = "cabin_compliance"
    __table_args__ = (
        CheckConstraint(sql_in("compliance_status", COMPLIANCE_STATUSES), name="status_known"),
        CheckConstraint(
            sql_in("accessibility_label", ACCESSIBILITY_LABELS), name="accessibility_label_known"
        ),
    )

    cabin_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cabin.id", ondelete="CASCADE"), primary_key=True
    )
    compliance_status: Mapped[str] = mapped_column(String(16), index=True)
    accessibility_label: Mapped[str] = mapped_column(String(16), index=True)
    failing_errors: Mapped[list[str]] = mapped_column(
        ARRAY(Text), comment="error-severity rules that fail"
    )
    unknown_errors: Mapped[list[str]] = mapped_column(
        ARRAY(Text), comment="error-severity rules that cannot be decided"
    )
    failing_warnings: Mapped[list[str]] = mapped_column(ARRAY(Text))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
