"""Cabin région changes: each time a cabin's région changes (its point moved into another
région), one row, so that the change feed tells the région it left and the one it entered.

The feed is scoped by région, and nothing recorded which région a cabin was in before: a cabin
moved by PATCH (or an import row) out of a région vanished from that région's feed, and a
regulator keeping a copy from the feed kept it for ever. The row is written by a trigger on
`cabin`, whatever writes the région (a PATCH, an import's set-based upsert). It takes its id
from `verdict_change`'s sequence and its transaction id as `verdict_change.xid` does, so that
the feed orders both by `(xid, id)` under the one cursor. Nothing is backfilled: the moves
before this revision were not recorded anywhere.

Revision ID: 0018_cabin_region_change
Revises: 0017_accessibility_relabel
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0018_cabin_region_change"
down_revision: str | Sequence[str] | None = "0017_accessibility_relabel"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

XID_COMMENT = "the transaction that moved the cabin; sorts the feed"


def upgrade() -> None:
    op.create_table(
        "cabin_region_change",
        sa.Column(
            "id",
            sa.BigInteger(),
            server_default=sa.text("nextval('verdict_change_id_seq'::regclass)"),
            nullable=False,
            comment="from verdict_change's sequence: one numbering for the change feed",
        ),
        sa.Column("cabin_id", sa.Uuid(), nullable=False),
        sa.Column("old_region", sa.String(length=3), nullable=True),
        sa.Column("new_region", sa.String(length=3), nullable=True),
        sa.Column(
            "changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cabin_region_change")),
    )
    # xid8 has no SQLAlchemy type of its own here (the model's is service.rules.models.Xid8)
    op.execute(
        "ALTER TABLE cabin_region_change ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id()"
    )
    op.execute(f"COMMENT ON COLUMN cabin_region_change.xid IS '{XID_COMMENT}'")
    op.create_index(
        op.f("ix_cabin_region_change_cabin_id_xid_id"),
        "cabin_region_change",
        ["cabin_id", "xid", "id"],
    )
    op.create_index(op.f("ix_cabin_region_change_xid_id"), "cabin_region_change", ["xid", "id"])
    op.execute(
        """
        CREATE FUNCTION cabin_region_change_write() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          INSERT INTO cabin_region_change (cabin_id, old_region, new_region)
          VALUES (NEW.id, OLD.region_code, NEW.region_code);
          RETURN NULL;
        END $$
        """
    )
    # A row trigger whose WHEN is checked in place: an update that keeps the région (nearly
    # all of them, an import of 100,000 rows included) never calls the function.
    op.execute(
        "CREATE TRIGGER cabin_region_change AFTER UPDATE OF region_code ON cabin FOR EACH ROW"
        " WHEN (OLD.region_code IS DISTINCT FROM NEW.region_code)"
        " EXECUTE FUNCTION cabin_region_change_write()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS cabin_region_change ON cabin")
    op.execute("DROP FUNCTION IF EXISTS cabin_region_change_write()")
    op.drop_index(op.f("ix_cabin_region_change_xid_id"), table_name="cabin_region_change")
    op.drop_index(op.f("ix_cabin_region_change_cabin_id_xid_id"), table_name="cabin_region_change")
    op.drop_table("cabin_region_change")
