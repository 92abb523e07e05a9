"""Reference layers: a GIN index on `cpts.member_insee`, so that the CPTS covering one commune
are found by one index probe (SIT-02 on a cabin write) instead of unnesting every territory.

Revision ID: 0010_cpts_member_index
Revises: 0009_cabin_operator_index
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010_cpts_member_index"
down_revision: str | Sequence[str] | None = "0009_cabin_operator_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_cpts_member_insee", "cpts", ["member_insee"], unique=False, postgresql_using="gin"
    )


def downgrade() -> None:
    op.drop_index("ix_cpts_member_insee", table_name="cpts", postgresql_using="gin")
