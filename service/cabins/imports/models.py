"""The `import_job` table: one row per bulk import — who sent it, how (mode, dry run), its
`Idempotency-Key` and body digest (a retried upload replays the stored answer), its state and
progress (rows done / total), and the per-row report."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from service.cabins.vocabulary import IMPORT_MODES, IMPORT_STATES, sql_in
from service.db import Base

# The unique index behind `Idempotency-Key`: a second job with the same key from the same client
# breaks it (service.errors names the conflict from it).
IDEMPOTENCY_KEY_INDEX = "uq_import_job_client_id_idempotency_key"


class ImportJob(Base):
    __tablename__ = "import_job"
    __table_args__ = (
        CheckConstraint(sql_in("state", IMPORT_STATES), name="state_known"),
        CheckConstraint(sql_in("mode", IMPORT_MODES), name="mode_known"),
        Index(
            IDEMPOTENCY_KEY_INDEX,
            "client_id",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    operator_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("operator.id"), index=True)
    client_id: Mapped[uuid.UUID | None] = mapped_column(
        comment="the API client that sent it; null for the command line"
    )
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    body_sha256: Mapped[str] = mapped_column(String(64), comment="digest of the uploaded body")
    media_type: Mapped[str] = mapped_column(String(32), comment="csv or ndjson")
    mode: Mapped[str] = mapped_column(String(8))
    dry_run: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[str] = mapped_column(String(16), index=True)
    rows_total: Mapped[int | None] = mapped_column(Integer)
    rows_done: Mapped[int] = mapped_column(Integer, server_default="0")
    rows_invalid: Mapped[int] = mapped_column(Integer, server_default="0")
    created: Mapped[int] = mapped_column(Integer, server_default="0")
    updated: Mapped[int] = mapped_column(Integer, server_default="0")
    unchanged: Mapped[int] = mapped_column(Integer, server_default="0")
    errors = mapped_column(
        JSONB, nullable=False, server_default="[]", comment="[{row, field, reason}]"
    )
    warnings = mapped_column(
        JSONB, nullable=False, server_default="[]", comment="[{row, field, reason}]"
    )
    detail: Mapped[str | None] = mapped_column(Text)
    response_status: Mapped[int | None] = mapped_column(
        Integer, comment="HTTP status of the answer, replayed for a retried upload"
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    backend_pid: Mapped[int | None] = mapped_column(
        Integer,
        comment="PostgreSQL backend running the import; gone while running = interrupted",
    )
