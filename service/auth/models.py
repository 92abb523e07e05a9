"""Operators (the organisations that own cabins) and API clients (hashed keys with a role and,
for operators, the operator; for regulators, a territorial scope)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base


class Operator(Base):
    """An organisation running cabins (a company, a pharmacy, an MSP, a town hall)."""

    __tablename__ = "operator"
    __table_args__ = (CheckConstraint("siren ~ '^[0-9]{9}$'", name="siren_digits"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(Text)
    siren: Mapped[str] = mapped_column(
        String(9), unique=True, comment="checked with the Luhn key at creation"
    )
    contact_email: Mapped[str | None] = mapped_column(Text)
    contact_phone: Mapped[str | None] = mapped_column(Text)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ApiClient(Base):
    """One API key. Only a SHA-256 of the key is stored; `key_prefix` (the key's first
    characters, not secret) finds the row without scanning hashes."""

    __tablename__ = "api_client"
    __table_args__ = (
        CheckConstraint("role IN ('operator', 'regulator', 'admin')", name="role_known"),
        CheckConstraint(
            "(role = 'operator') = (operator_id IS NOT NULL)", name="operator_iff_operator_role"
        ),
        CheckConstraint(
            "(role = 'regulator') = (scope IS NOT NULL)"
            " AND (scope IS NULL OR scope = 'national' OR scope ~ '^region:[0-9]{2,3}$')",
            name="scope_for_regulators",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(Text)
    key_prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), comment="hex SHA-256 of the whole key")
    role: Mapped[str] = mapped_column(String(16))
    operator_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("operator.id"), index=True, comment="for role operator"
    )
    scope: Mapped[str | None] = mapped_column(
        String(16), comment="for role regulator: 'national' or 'region:<INSEE region code>'"
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
