"""PostGIS: the spatial extension every reference layer and cabin location stands on.

Revision ID: 0001_postgis
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0001_postgis"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")


def downgrade() -> None:
    # The extension may be shared with other schemas of the database: leave it in place.
    pass
