"""Cabins: drop the index on cabin.operator_id alone. The unique constraint on
(operator_id, operator_reference) leads with operator_id and serves every query by owner;
the second index only cost a b-tree insertion per written cabin (the bulk import writes
100,000 at a time).

Revision ID: 0009_cabin_operator_index
Revises: 0008_compliance_tally
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009_cabin_operator_index"
down_revision: str | Sequence[str] | None = "0008_compliance_tally"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_cabin_operator_id", table_name="cabin")


def downgrade() -> None:
    op.create_index("ix_cabin_operator_id", "cabin", ["operator_id"], unique=False)
