"""Public data: every statement that changes a cabin or its compliance notifies the channel
`public_data` (delivered at commit, one notification per transaction), so the workers' caches
of rendered public responses are emptied (service/public/cache.py).

Revision ID: 0007_public_data_notify
Revises: 0006_audit_truncate
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007_public_data_notify"
down_revision: str | Sequence[str] | None = "0006_audit_truncate"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("cabin", "cabin_compliance")


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION public_data_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          -- same channel and payload: PostgreSQL folds a transaction's notifications into one
          PERFORM pg_notify('public_data', '');
          RETURN NULL;
        END $$
        """
    )
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_public_data_notify"
            f" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION public_data_notify()"
        )


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_public_data_notify ON {table}")
    op.execute("DROP FUNCTION IF EXISTS public_data_notify()")
