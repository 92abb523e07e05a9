"""Verdicts: the fingerprint of what the evidence was built from.

A full pass compares each rule's fresh outcome and fingerprint (a 64-bit hash of every value
the evidence is built from, `service.rules.fingerprint`) with the stored ones, and builds the
evidence only of the verdicts that differ; building the JSONB evidence of every cabin was two
thirds of a pass. Existing verdicts have none: the first pass after this migration writes it
(their evidence, outcome and dates stay as they were when nothing else changed).

Revision ID: 0014_verdict_fingerprint
Revises: 0013_cabin_hours_statistics
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0014_verdict_fingerprint"
down_revision: str | Sequence[str] | None = "0013_cabin_hours_statistics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "verdict",
        sa.Column(
            "fingerprint",
            sa.BigInteger(),
            nullable=True,
            comment="hash of what the evidence was built from (null: not yet computed)",
        ),
    )


def downgrade() -> None:
    op.drop_column("verdict", "fingerprint")
