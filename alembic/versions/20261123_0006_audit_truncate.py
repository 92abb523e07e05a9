"""Audit: TRUNCATE of the append-only trail is refused too (the row trigger does not fire on
TRUNCATE, and an emptied trail would read as an intact chain).

Revision ID: 0006_audit_truncate
Revises: 0005_imports
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006_audit_truncate"
down_revision: str | Sequence[str] | None = "0005_imports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Same function as the row trigger: it raises whatever the operation.
    op.execute(
        "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event"
        " FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event")
