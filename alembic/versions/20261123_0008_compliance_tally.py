"""Compliance: `compliance_tally`, per cabin its compliance status and its failing rules as a
bitmask (SIT-nn is bit nn), kept set-based by statement triggers on `cabin_compliance` (its
transition tables: one statement per write, whatever the number of cabins), so the regulators'
summary counts bits instead of searching text arrays per rule and cabin.

Revision ID: 0008_compliance_tally
Revises: 0007_public_data_notify
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0008_compliance_tally"
down_revision: str | Sequence[str] | None = "0007_public_data_notify"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Same pattern as service.compliance.models.RULE_BIT_PATTERN.
RULE_BIT_PATTERN = "^SIT-(0[1-9]|[1-5][0-9]|6[0-2])$"

TALLY_OF = """
INSERT INTO compliance_tally (cabin_id, compliance_status, failing)
SELECT c.cabin_id, c.compliance_status,
       compliance_rule_bits(c.failing_errors || c.failing_warnings)
FROM {source} AS c
ON CONFLICT (cabin_id) DO UPDATE
SET compliance_status = excluded.compliance_status, failing = excluded.failing
WHERE (compliance_tally.compliance_status, compliance_tally.failing)
      IS DISTINCT FROM (excluded.compliance_status, excluded.failing)
"""


def upgrade() -> None:
    op.create_table(
        "compliance_tally",
        sa.Column("cabin_id", sa.Uuid(), nullable=False),
        sa.Column("compliance_status", sa.String(length=16), nullable=False),
        sa.Column(
            "failing",
            sa.BigInteger(),
            nullable=False,
            comment="bit n set when rule SIT-nn fails (error or warning severity)",
        ),
        sa.ForeignKeyConstraint(
            ["cabin_id"],
            ["cabin.id"],
            name=op.f("fk_compliance_tally_cabin_id_cabin"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("cabin_id", name=op.f("pk_compliance_tally")),
    )
    # plpgsql, not a SQL function over unnest(): called once per written row by the trigger,
    # it costs a quarter as much.
    op.execute(
        f"""
        CREATE FUNCTION compliance_rule_bits(codes text[]) RETURNS bigint
        LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
        DECLARE
          code text;
          mask bigint := 0;
        BEGIN
          FOREACH code IN ARRAY codes LOOP
            IF code ~ '{RULE_BIT_PATTERN}' THEN
              mask := mask | (1::bigint << substring(code FROM 5)::int);
            END IF;
          END LOOP;
          RETURN mask;
        END $$
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION compliance_tally_write() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          {TALLY_OF.format(source="written")};
          RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION compliance_tally_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'TRUNCATE' THEN
            TRUNCATE compliance_tally;
          ELSE
            DELETE FROM compliance_tally t USING removed r WHERE t.cabin_id = r.cabin_id;
          END IF;
          RETURN NULL;
        END $$
        """
    )
    for event, transition, function in (
        ("INSERT", "REFERENCING NEW TABLE AS written", "compliance_tally_write"),
        ("UPDATE", "REFERENCING NEW TABLE AS written", "compliance_tally_write"),
        ("DELETE", "REFERENCING OLD TABLE AS removed", "compliance_tally_delete"),
        ("TRUNCATE", "", "compliance_tally_delete"),
    ):
        op.execute(
            f"CREATE TRIGGER cabin_compliance_tally_{event.lower()} AFTER {event}"
            f" ON cabin_compliance {transition}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )
    # Below 8 MB (min_parallel_table_scan_size: 100,000 cabins are 6.5 MiB) the planner would
    # not scan it in parallel, so each worker of the summary's parallel plan would build the
    # whole hash of the tally; with a parallel scan the workers build one shared hash.
    op.execute("ALTER TABLE compliance_tally SET (parallel_workers = 2)")
    op.execute(TALLY_OF.format(source="cabin_compliance"))


def downgrade() -> None:
    for event in ("insert", "update", "delete", "truncate"):
        op.execute(f"DROP TRIGGER IF EXISTS cabin_compliance_tally_{event} ON cabin_compliance")
    op.execute("DROP FUNCTION IF EXISTS compliance_tally_delete()")
    op.execute("DROP FUNCTION IF EXISTS compliance_tally_write()")
    op.execute("DROP FUNCTION IF EXISTS compliance_rule_bits(text[])")
    op.drop_table("compliance_tally")
