"""Accessibility labels: every stored label recomputed under the label's one definition.

The label was written in three places that disagreed; the stored one said `partial` for a
venue that fails (SIT-17) in front of an interior that passes (SIT-18), and `not_accessible`
for an unknown venue in front of an interior that fails. It now has one definition
(`service.rules.catalogue.accessibility.label_sql`): the venue decides first — a cabin that
cannot be reached is not accessible (H6, H8) — and a label is given only when every outcome
of an unknown rule would agree. A rule pass recomputes only the cabins whose verdicts it
rewrites, so the labels stored before are recomputed here, from the stored verdicts, once
(the same as `registry rules recompute-compliance`). The SQL is this revision's, frozen.

Revision ID: 0017_accessibility_relabel
Revises: 0016_verdict_change_xid
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017_accessibility_relabel"
down_revision: str | Sequence[str] | None = "0016_verdict_change_xid"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RELABEL = """
UPDATE cabin_compliance cc
SET accessibility_label = relabelled.label, updated_at = now()
FROM (SELECT v.cabin_id, {label} AS label FROM verdict v GROUP BY v.cabin_id) relabelled
WHERE relabelled.cabin_id = cc.cabin_id
  AND relabelled.label IS DISTINCT FROM cc.accessibility_label
"""
VENUE = "min(v.outcome) FILTER (WHERE v.rule_code = 'SIT-17')"
INTERIOR = "min(v.outcome) FILTER (WHERE v.rule_code = 'SIT-18')"

LABEL = f"""CASE WHEN {VENUE} = 'fail' THEN 'not_accessible'
                 WHEN {VENUE} = 'pass' AND {INTERIOR} = 'pass' THEN 'accessible'
                 WHEN {VENUE} = 'pass' AND {INTERIOR} = 'fail' THEN 'partial'
                 ELSE 'unknown' END"""

# the stored label of revision 0016
FORMER_LABEL = """CASE WHEN count(*) FILTER (WHERE v.rule_code IN ('SIT-17', 'SIT-18')
                                  AND v.outcome = 'pass') = 2 THEN 'accessible'
                 WHEN bool_or(v.rule_code IN ('SIT-17', 'SIT-18') AND v.outcome = 'pass')
                      AND bool_or(v.rule_code IN ('SIT-17', 'SIT-18') AND v.outcome = 'fail')
                      THEN 'partial'
                 WHEN bool_or(v.rule_code IN ('SIT-17', 'SIT-18') AND v.outcome = 'fail')
                      THEN 'not_accessible'
                 ELSE 'unknown' END"""


def upgrade() -> None:
    op.execute(RELABEL.format(label=LABEL))


def downgrade() -> None:
    op.execute(RELABEL.format(label=FORMER_LABEL))
