"""Imports: `import_job.backend_pid`, the PostgreSQL backend that runs a background import,
so that a job whose backend is gone (the service stopped mid-import) is reported as failed
instead of running forever.

Revision ID: 0011_import_job_backend
Revises: 0010_cpts_member_index
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0011_import_job_backend"
down_revision: str | Sequence[str] | None = "0010_cpts_member_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "import_job",
        sa.Column(
            "backend_pid",
            sa.Integer(),
            nullable=True,
            comment="PostgreSQL backend running the import; gone while running = interrupted",
        ),
    )


def downgrade() -> None:
    op.drop_column("import_job", "backend_pid")
