"""The audit trail table: append-only, each event carrying the hash of the one before it."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base


class AuditEvent(Base):
    """One write: who (API client, or a named system actor), what (action, target), the diff
    `{field: [old, new]}`, why (reason), and the chain (`prev_hash`, `hash`)."""

    __tablename__ = "audit_event"
    __table_args__ = (Index(None, "target_type", "target_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_client_id: Mapped[uuid.UUID | None] = mapped_column(
        comment="the API client; null for the command line"
    )
    actor: Mapped[str] = mapped_column(Text, comment="client name, or e.g. 'cli', 'import'")
    action: Mapped[str] = mapped_column(String(64), comment="e.g. cabin.create, cabin.transition")
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(64))
    diff = mapped_column(JSONB, nullable=False, comment="{field: [old, new]}")
    reason: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str | None] = mapped_column(String(64), comment="null for the first event")
    hash: Mapped[str] = mapped_column(
        String(64), comment="not unique-indexed: a fork shows as two events after one prev_hash"
    )
