"""Verdict changes: the transaction that wrote each one, so the change feed never skips one.

The feed served the changes after an id. Ids are taken in one order and committed in another:
a transaction that took id 10 and commits after the one that took id 11 wrote a change the
consumer, already past 11, never got. Each change now records its top-level transaction id
(`pg_current_xact_id()`, an `xid8`, which never wraps); the feed orders by `(xid, id)` and
serves only the changes of transactions older than every one still running
(`pg_snapshot_xmin`), so whatever commits later sorts after all it has served.

Existing changes were all committed: they get xid 0 (a constant default, so no table
rewrite) and sort before every new one; new rows take the writing transaction's id.

Revision ID: 0016_verdict_change_xid
Revises: 0015_time_ordered_cabin_ids
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016_verdict_change_xid"
down_revision: str | Sequence[str] | None = "0015_time_ordered_cabin_ids"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COMMENT = "the transaction that wrote the change (0: written before); sorts the feed"


def upgrade() -> None:
    op.execute("ALTER TABLE verdict_change ADD COLUMN xid xid8 NOT NULL DEFAULT '0'")
    op.execute("ALTER TABLE verdict_change ALTER COLUMN xid SET DEFAULT pg_current_xact_id()")
    op.execute(f"COMMENT ON COLUMN verdict_change.xid IS '{COMMENT}'")
    op.create_index("ix_verdict_change_xid_id", "verdict_change", ["xid", "id"])


def downgrade() -> None:
    op.drop_index("ix_verdict_change_xid_id", table_name="verdict_change")
    op.drop_column("verdict_change", "xid")
