"""Cabins get time-ordered ids (UUID version 7); the audit trail drops its unique index on
`hash`.

Both keep a bulk import's index writes at the right edge of their B-trees instead of spread
over every page. A random (version 4) cabin id put each of 100,000 imported cabins in a random
leaf of the cabin, verdict and compliance primary keys and of the audit trail's index on its
target; a hash put each event in a random leaf of that unique index. On a trail of two million
events whose pages were not in memory, the import's audit append took 13.6 s (bench/import,
cluster restarted and the OS caches dropped); with both changes, 4.6–7.9 s.

A UUIDv7 starts with the Unix time in milliseconds (RFC 9562), so ids sort by creation;
`uuid_v7()` makes them from `gen_random_uuid()` (its 74 random bits and variant kept), with
the time written over the first 48 bits and the version set to 7. Existing ids stay valid.

The unique index on `hash` guarded nothing the chain does not: a fork is two events after the
same `prev_hash`, which `registry audit verify` reports, and appends are serialised by the
chain's advisory lock (`service.audit.trail.lock_tail`).

Revision ID: 0015_time_ordered_cabin_ids
Revises: 0014_verdict_fingerprint
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0015_time_ordered_cabin_ids"
down_revision: str | Sequence[str] | None = "0014_verdict_fingerprint"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION uuid_v7() RETURNS uuid LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
          SELECT encode(
            set_bit(set_bit(
              overlay(uuid_send(gen_random_uuid())
                      placing substring(int8send(
                        (extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                      FROM 1 FOR 6),
              52, 1), 53, 1),
            'hex')::uuid
        $$
        """
    )
    op.execute("COMMENT ON FUNCTION uuid_v7() IS 'a time-ordered UUID (RFC 9562 version 7)'")
    op.alter_column(
        "cabin",
        "id",
        server_default=sa.text("uuid_v7()"),
        comment="time-ordered (UUIDv7): new cabins go to the right edge of every index on it",
    )
    op.drop_constraint("uq_audit_event_hash", "audit_event", type_="unique")
    op.alter_column(
        "audit_event",
        "hash",
        comment="not unique-indexed: a fork shows as two events after one prev_hash",
    )


def downgrade() -> None:
    op.alter_column("audit_event", "hash", comment=None)
    op.create_unique_constraint("uq_audit_event_hash", "audit_event", ["hash"])
    op.alter_column("cabin", "id", server_default=None, comment=None)
    op.execute("DROP FUNCTION uuid_v7()")
