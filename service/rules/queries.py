"""Reads of the rule engine: rule sets and their rules, a cabin's current verdicts and
compliance, and the same rebuilt from `verdict_change` as of a date."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Integer, RowMapping, cast, func, select, text, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from service.auth.deps import Principal
from service.cabins.models import Cabin
from service.cabins.queries import visible_to
from service.compliance import queries as compliance
from service.rules.evaluator import COMPLIANCE_COLUMNS
from service.rules.models import CabinCompliance, Rule, RuleSet


class CabinAsOf(NamedTuple):
    region_code: str | None


def rule_sets(session: Session) -> Sequence[RuleSet]:
    """Drafts first, then by publication, newest first; versions by number (2026.10 after
    2026.9), not as text."""
    by_number = cast(func.string_to_array(RuleSet.version, "."), ARRAY(Integer))
    return session.scalars(
        select(RuleSet).order_by(RuleSet.published_at.desc().nulls_first(), by_number.desc())
    ).all()


def rule_set(session: Session, version: str) -> RuleSet | None:
    return session.get(RuleSet, version)


def rules_of(session: Session, version: str) -> Sequence[Rule]:
    return session.scalars(
        select(Rule).where(Rule.rule_set_version == version).order_by(Rule.code)
    ).all()


def compliance_of(session: Session, cabin_id: uuid.UUID) -> CabinCompliance | None:
    return session.get(CabinCompliance, cabin_id)


# `changed_at`: when the outcome last changed (a history row whose outcome did not move is a
# severity changed alone, `evaluator.write_changes`).
_CURRENT_VERDICTS = """
SELECT v.rule_code, r.title, v.severity, v.outcome, v.evidence, v.failing_since,
       v.rule_set_version, v.profile,
       (SELECT max(ch.changed_at) FROM verdict_change ch
         WHERE ch.cabin_id = v.cabin_id AND ch.rule_code = v.rule_code
           AND ch.old_outcome IS DISTINCT FROM ch.new_outcome) AS changed_at
FROM verdict v
LEFT JOIN rule r ON r.code = v.rule_code
                AND r.rule_set_version = (SELECT version FROM rule_set WHERE status = 'published')
WHERE v.cabin_id = :cabin_id
ORDER BY v.rule_code
"""


def current_verdicts(session: Session, cabin_id: uuid.UUID) -> list[RowMapping]:
    return list(session.execute(text(_CURRENT_VERDICTS), {"cabin_id": cabin_id}).mappings())


# The last outcome change of each rule before the end of the day asked for: the outcome then,
# and since when (a change row opens each outcome, so a `fail` started at its change). A row
# whose outcome did not move is a severity changed alone (`evaluator.write_changes`): it opens
# nothing, so it is skipped. The severity and profile are those of the rule set in force that
# day for `:region_code`, the cabin's région that day (`cabin_as_of`); the history written
# before severity rows existed has none.
_VERDICTS_AS_OF = """
SELECT DISTINCT ON (ch.rule_code)
       ch.rule_code, r.title, coalesce(p.severity, r.severity) AS severity,
       ch.new_outcome AS outcome, ch.evidence,
       CASE WHEN ch.new_outcome = 'fail' THEN ch.changed_at END AS failing_since,
       ch.rule_set_version, p.name AS profile, ch.changed_at
FROM verdict_change ch
JOIN rule r ON r.code = ch.rule_code AND r.rule_set_version = :version AND r.enabled
JOIN rule_set rs ON rs.version = r.rule_set_version
LEFT JOIN LATERAL (
  SELECT pr.value ->> 'name' AS name, pr.value -> 'rules' -> ch.rule_code ->> 'severity' AS severity
  FROM jsonb_array_elements(rs.profiles) WITH ORDINALITY AS pr(value, n)
  WHERE pr.value -> 'regions' ? :region_code AND pr.value -> 'rules' ? ch.rule_code
  ORDER BY pr.n  -- the first profile listed for the rule and région, as the evaluator
  LIMIT 1
) p ON true
WHERE ch.cabin_id = :cabin_id AND ch.changed_at < :before
  AND ch.old_outcome IS DISTINCT FROM ch.new_outcome
ORDER BY ch.rule_code, ch.changed_at DESC, ch.id DESC
"""


def end_of(day: date) -> datetime:
    from datetime import UTC

    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)


def rule_set_in_force_at(session: Session, before: datetime) -> RuleSet | None:
    return session.scalar(
        select(RuleSet)
        .where(RuleSet.published_at.is_not(None), RuleSet.published_at < before)
        .order_by(RuleSet.published_at.desc())
        .limit(1)
    )


def cabin_as_of(
    session: Session, principal: Principal, cabin_id: uuid.UUID, before: datetime
) -> CabinAsOf | None:
    """The cabin as of `before` (the end of a day) if the caller may see it as of then, else
    None (the caller answers 404 either way). A regional regulator's scope is the région the
    cabin was in then, not the one it is in now: a cabin that has left the région since is
    still its on that day, one that has entered it since is not."""
    regional = compliance.regional(principal)
    # an operator's scope, or everything, does not follow the cabin's région
    scope = true() if regional else visible_to(principal)
    row = session.execute(
        select(compliance.region_at(before)).where(Cabin.id == cabin_id, scope)
    ).first()
    if row is None or (regional and row[0] != regional):
        return None
    return CabinAsOf(region_code=row[0])


def verdicts_as_of(
    session: Session, cabin_id: uuid.UUID, version: str, before: datetime, region: str | None
) -> list[RowMapping]:
    """The cabin's verdicts as of `before` under rule set `version`, with the severities of
    that set's profile for `region` (the cabin's région then, `cabin_as_of`)."""
    return list(
        session.execute(
            text(_VERDICTS_AS_OF),
            {"cabin_id": cabin_id, "version": version, "before": before, "region_code": region},
        ).mappings()
    )


# The compliance of verdicts given as parameters, by the evaluator's own expression.
_COMPLIANCE_OF = f"""
SELECT {COMPLIANCE_COLUMNS}
FROM unnest(CAST(:codes AS text[]), CAST(:severities AS text[]), CAST(:outcomes AS text[]))
     AS v(rule_code, severity, outcome)
"""


def derive_status(session: Session, verdicts: Sequence[Any]) -> dict[str, Any]:
    """Compliance status, accessibility label and rule lists of verdict rows (the as-of and
    what-if answers), by the very expression the evaluator stores
    (`evaluator.COMPLIANCE_COLUMNS`)."""
    row = session.execute(
        text(_COMPLIANCE_OF),
        {
            "codes": [v["rule_code"] for v in verdicts],
            "severities": [v["severity"] for v in verdicts],
            "outcomes": [v["outcome"] for v in verdicts],
        },
    ).one()
    return {
        "compliance_status": row.compliance_status,
        "accessibility_label": row.accessibility_label,
        "failing_errors": list(row.failing_errors),
        "unknown_errors": list(row.unknown_errors),
        "failing_warnings": list(row.failing_warnings),
    }
