"""Bulk imports: the `import_job` table (state, progress, per-row report, Idempotency-Key).

Revision ID: 0005_imports
Revises: 0004_rules
Create Date: 2026-11-23 01:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0005_imports"
down_revision: str | Sequence[str] | None = "0004_rules"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "import_job",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("operator_id", sa.Uuid(), nullable=False),
        sa.Column(
            "client_id",
            sa.Uuid(),
            nullable=True,
            comment="the API client that sent it; null for the command line",
        ),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column(
            "body_sha256",
            sa.String(length=64),
            nullable=False,
            comment="digest of the uploaded body",
        ),
        sa.Column("media_type", sa.String(length=32), nullable=False, comment="csv or ndjson"),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=True),
        sa.Column("rows_done", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rows_invalid", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created", sa.Integer(), server_default="0", nullable=False),
        sa.Column("updated", sa.Integer(), server_default="0", nullable=False),
        sa.Column("unchanged", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "errors",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
            comment="[{row, field, reason}]",
        ),
        sa.Column(
            "warnings",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
            comment="[{row, field, reason}]",
        ),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column(
            "response_status",
            sa.Integer(),
            nullable=True,
            comment="HTTP status of the answer, replayed for a retried upload",
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("mode IN ('atomic', 'partial')", name=op.f("ck_import_job_mode_known")),
        sa.CheckConstraint(
            "state IN ('queued', 'running', 'succeeded', 'rejected', 'failed')",
            name=op.f("ck_import_job_state_known"),
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operator.id"], name=op.f("fk_import_job_operator_id_operator")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_job")),
    )
    op.create_index(op.f("ix_import_job_operator_id"), "import_job", ["operator_id"], unique=False)
    op.create_index(op.f("ix_import_job_state"), "import_job", ["state"], unique=False)
    op.create_index(
        "uq_import_job_client_id_idempotency_key",
        "import_job",
        ["client_id", "idempotency_key"],
        unique=True,
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "uq_import_job_client_id_idempotency_key",
        table_name="import_job",
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )
    op.drop_index(op.f("ix_import_job_state"), table_name="import_job")
    op.drop_index(op.f("ix_import_job_operator_id"), table_name="import_job")
    op.drop_table("import_job")
