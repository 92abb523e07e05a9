"""The evaluator: runs the rule set in force over a set of cabins (some ids, or all), one
statement per rule and parameter group, writing only what changed.

Each statement is `WITH v AS (<the rule's select>), d AS (<v joined to the stored verdicts,
keeping the rows whose outcome, evidence, severity or profile differ>), up AS (INSERT INTO
verdict … ON CONFLICT DO UPDATE), ch AS (INSERT INTO verdict_change <the rows whose outcome
changed>) SELECT <counts>`. Then the compliance status and accessibility label of the cabins
whose verdicts were rewritten are recomputed in one statement.

`evaluate_cabins` runs in the caller's session and transaction (the cabin write path calls it
through `evaluate`); `reevaluate_all` is the full pass after publishing a rule set or loading
a new layer vintage."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Table,
    and_,
    any_,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session
from sqlalchemy.types import Text, Uuid

from service.cabins.models import Cabin
from service.rules import plan as planning
from service.rules.catalogue.base import RuleInput
from service.rules.models import Verdict, VerdictChange

cabin: Table = Cabin.__table__  # type: ignore[assignment]
verdict: Table = Verdict.__table__  # type: ignore[assignment]
verdict_change: Table = VerdictChange.__table__  # type: ignore[assignment]


@dataclass
class RuleReport:
    changed: int = 0
    """Cabins whose outcome changed (a first evaluation is not a change)."""
    first: int = 0
    """Cabins evaluated by this rule for the first time."""
    rewritten: int = 0
    """Verdict rows written (outcome or evidence changed)."""


@dataclass
class EvaluationReport:
    rule_set_version: str | None
    rules: dict[str, RuleReport] = field(default_factory=dict)
    unimplemented: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def changed(self) -> int:
        return sum(r.changed for r in self.rules.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule_set_version": self.rule_set_version,
            "rules": {
                code: {"changed": r.changed, "first": r.first, "rewritten": r.rewritten}
                for code, r in sorted(self.rules.items())
            },
            "unimplemented": self.unimplemented,
            "seconds": round(self.seconds, 3),
        }


def cabins_selectable(
    cabin_ids: Sequence[uuid.UUID] | None, run: planning.RuleRun | None = None
) -> FromClause:
    """The cabins a run covers: the given ids (or all), limited to the run's régions."""
    conditions: list[ColumnElement[bool]] = []
    if cabin_ids is not None:
        conditions.append(cabin.c.id == any_(literal(list(cabin_ids), ARRAY(Uuid))))
    if run is not None:
        if run.regions is not None:
            conditions.append(cabin.c.region_code.in_(run.regions))
        elif run.excluded:
            conditions.append(
                or_(cabin.c.region_code.is_(None), cabin.c.region_code.not_in(run.excluded))
            )
    return select(cabin).where(*conditions).subquery("cabins")


def rule_statement(run: planning.RuleRun, cabins: FromClause, at: datetime, version: str) -> Any:
    """The one statement of a run: upsert the changed verdicts, append the changes, count."""
    produced = run.definition.implementation(
        RuleInput(cabins=cabins, params=run.params, at=at.date())
    ).cte("v")
    evidence: ColumnElement[Any] = produced.c.evidence
    if run.profile is not None:
        evidence = evidence.op("||")(func.jsonb_build_object("profile", run.profile, type_=JSONB))
    old = verdict.alias("old")
    severity = literal(run.severity, Text)
    profile = literal(run.profile, Text) if run.profile is not None else null()
    diff = (
        select(
            produced.c.cabin_id,
            produced.c.outcome,
            evidence.label("evidence"),
            old.c.outcome.label("old_outcome"),
            old.c.failing_since.label("old_failing_since"),
        )
        .select_from(
            produced.outerjoin(
                old, and_(old.c.cabin_id == produced.c.cabin_id, old.c.rule_code == run.code)
            )
        )
        .where(
            or_(
                old.c.outcome.is_distinct_from(produced.c.outcome),
                old.c.evidence.is_distinct_from(evidence),
                old.c.severity.is_distinct_from(severity),
                old.c.profile.is_distinct_from(profile),
            )
        )
        .cte("d")
    )
    failing_since = case(
        (
            diff.c.outcome == "fail",
            func.coalesce(
                case((diff.c.old_outcome == "fail", diff.c.old_failing_since)), literal(at)
            ),
        ),
    )
    upsert = pg_insert(verdict).from_select(
        [
            "cabin_id",
            "rule_code",
            "outcome",
            "severity",
            "evidence",
            "failing_since",
            "evaluated_at",
            "rule_set_version",
            "profile",
        ],
        select(
            diff.c.cabin_id,
            literal(run.code, Text),
            diff.c.outcome,
            severity,
            diff.c.evidence,
            failing_since,
            literal(at),
            literal(version, Text),
            profile,
        ),
    )
    returning = upsert.on_conflict_do_update(
        index_elements=["cabin_id", "rule_code"],
        set_={
            name: upsert.excluded[name]
            for name in (
                "outcome",
                "severity",
                "evidence",
                "failing_since",
                "evaluated_at",
                "rule_set_version",
                "profile",
            )
        },
    ).returning(verdict.c.cabin_id)
    up = returning.cte("up")
    change = (
        insert(verdict_change)
        .from_select(
            [
                "cabin_id",
                "rule_code",
                "old_outcome",
                "new_outcome",
                "severity",
                "evidence",
                "rule_set_version",
                "profile",
                "changed_at",
            ],
            select(
                diff.c.cabin_id,
                literal(run.code, Text),
                diff.c.old_outcome,
                diff.c.outcome,
                severity,
                diff.c.evidence,
                literal(version, Text),
                profile,
                literal(at),
            ).where(diff.c.old_outcome.is_distinct_from(diff.c.outcome)),
        )
        .returning(verdict_change.c.old_outcome)
    )
    ch = change.cte("ch")
    return select(
        select(func.count()).select_from(ch).where(ch.c.old_outcome.is_not(None)).scalar_subquery(),
        select(func.count()).select_from(ch).where(ch.c.old_outcome.is_(None)).scalar_subquery(),
        select(func.count()).select_from(up).scalar_subquery(),
    )


def runs_statement(
    runs: Sequence[planning.RuleRun],
    cabin_ids: Sequence[uuid.UUID],
    at: datetime,
    version: str,
) -> Any:
    """Every run over a few given cabins in ONE statement (the rule selects UNION ALL, then
    the same diff, upsert and history as `rule_statement`): a cabin write pays one round trip
    and one plan instead of one per rule. Rows: (rule_code, changed, first, rewritten)."""
    parts = []
    for run in runs:
        produced = run.definition.implementation(
            RuleInput(cabins=cabins_selectable(cabin_ids, run), params=run.params, at=at.date())
        ).subquery()
        evidence: ColumnElement[Any] = produced.c.evidence
        if run.profile is not None:
            evidence = evidence.op("||")(
                func.jsonb_build_object("profile", run.profile, type_=JSONB)
            )
        profile = literal(run.profile, Text) if run.profile is not None else cast(null(), Text)
        parts.append(
            select(
                produced.c.cabin_id,
                literal(run.code, Text).label("rule_code"),
                produced.c.outcome,
                evidence.label("evidence"),
                literal(run.severity, Text).label("severity"),
                profile.label("profile"),
            )
        )
    produced_all = union_all(*parts).cte("v")
    v = produced_all.c
    old = verdict.alias("old")
    diff = (
        select(
            v.cabin_id,
            v.rule_code,
            v.outcome,
            v.evidence,
            v.severity,
            v.profile,
            old.c.outcome.label("old_outcome"),
            old.c.failing_since.label("old_failing_since"),
        )
        .select_from(
            produced_all.outerjoin(
                old, and_(old.c.cabin_id == v.cabin_id, old.c.rule_code == v.rule_code)
            )
        )
        .where(
            or_(
                old.c.outcome.is_distinct_from(v.outcome),
                old.c.evidence.is_distinct_from(v.evidence),
                old.c.severity.is_distinct_from(v.severity),
                old.c.profile.is_distinct_from(v.profile),
            )
        )
        .cte("d")
    )
    failing_since = case(
        (
            diff.c.outcome == "fail",
            func.coalesce(
                case((diff.c.old_outcome == "fail", diff.c.old_failing_since)), literal(at)
            ),
        ),
    )
    columns = [
        "cabin_id",
        "rule_code",
        "outcome",
        "severity",
        "evidence",
        "failing_since",
        "evaluated_at",
        "rule_set_version",
        "profile",
    ]
    upsert = pg_insert(verdict).from_select(
        columns,
        select(
            diff.c.cabin_id,
            diff.c.rule_code,
            diff.c.outcome,
            diff.c.severity,
            diff.c.evidence,
            failing_since,
            literal(at),
            literal(version, Text),
            diff.c.profile,
        ),
    )
    returning = upsert.on_conflict_do_update(
        index_elements=["cabin_id", "rule_code"],
        set_={name: upsert.excluded[name] for name in columns[2:]},
    ).returning(verdict.c.rule_code)
    up = returning.cte("up")
    change = (
        insert(verdict_change)
        .from_select(
            [
                "cabin_id",
                "rule_code",
                "old_outcome",
                "new_outcome",
                "severity",
                "evidence",
                "rule_set_version",
                "profile",
                "changed_at",
            ],
            select(
                diff.c.cabin_id,
                diff.c.rule_code,
                diff.c.old_outcome,
                diff.c.outcome,
                diff.c.severity,
                diff.c.evidence,
                literal(version, Text),
                diff.c.profile,
                literal(at),
            ).where(diff.c.old_outcome.is_distinct_from(diff.c.outcome)),
        )
        .returning(verdict_change.c.rule_code, verdict_change.c.old_outcome)
    )
    ch = change.cte("ch")
    changes = (
        select(
            ch.c.rule_code,
            func.count().filter(ch.c.old_outcome.is_not(None)).label("changed"),
            func.count().filter(ch.c.old_outcome.is_(None)).label("first"),
        )
        .group_by(ch.c.rule_code)
        .subquery("changes")
    )
    rewrites = (
        select(up.c.rule_code, func.count().label("rewritten"))
        .group_by(up.c.rule_code)
        .subquery("rewrites")
    )
    return select(
        rewrites.c.rule_code,
        func.coalesce(changes.c.changed, 0),
        func.coalesce(changes.c.first, 0),
        rewrites.c.rewritten,
    ).select_from(rewrites.outerjoin(changes, changes.c.rule_code == rewrites.c.rule_code))


# Up to this many cabins (a write, a small import), a pass is one statement for all rules.
ONE_STATEMENT_MAX_CABINS = 50


# Compliance: `compliant` when no error rule fails, `non_compliant` when one does,
# `incomplete` when an error rule is unknown and none fails. Accessibility label from
# SIT-17 (venue) and SIT-18 (cabin interior): both pass → accessible; one passes and the
# other fails → partial; none passes and one fails → not_accessible; else unknown.
COMPLIANCE_SQL_TEMPLATE = """
INSERT INTO cabin_compliance AS cc (cabin_id, compliance_status, accessibility_label,
                                    failing_errors, unknown_errors, failing_warnings, updated_at)
SELECT v.cabin_id,
       CASE WHEN bool_or(v.severity = 'error' AND v.outcome = 'fail') THEN 'non_compliant'
            WHEN bool_or(v.severity = 'error' AND v.outcome = 'unknown') THEN 'incomplete'
            ELSE 'compliant' END,
       CASE WHEN count(*) FILTER (WHERE v.rule_code IN ('SIT-17', 'SIT-18')
                                  AND v.outcome = 'pass') = 2 THEN 'accessible'
            WHEN bool_or(v.rule_code IN ('SIT-17', 'SIT-18') AND v.outcome = 'pass')
                 AND bool_or(v.rule_code IN ('SIT-17', 'SIT-18') AND v.outcome = 'fail')
                 THEN 'partial'
            WHEN bool_or(v.rule_code IN ('SIT-17', 'SIT-18') AND v.outcome = 'fail')
                 THEN 'not_accessible'
            ELSE 'unknown' END,
       coalesce(array_agg(v.rule_code ORDER BY v.rule_code)
                FILTER (WHERE v.severity = 'error' AND v.outcome = 'fail'), '{}'),
       coalesce(array_agg(v.rule_code ORDER BY v.rule_code)
                FILTER (WHERE v.severity = 'error' AND v.outcome = 'unknown'), '{}'),
       coalesce(array_agg(v.rule_code ORDER BY v.rule_code)
                FILTER (WHERE v.severity = 'warning' AND v.outcome = 'fail'), '{}'),
       :at
FROM verdict v
WHERE {cabins}
GROUP BY v.cabin_id
ON CONFLICT (cabin_id) DO UPDATE
SET compliance_status = excluded.compliance_status,
    accessibility_label = excluded.accessibility_label,
    failing_errors = excluded.failing_errors,
    unknown_errors = excluded.unknown_errors,
    failing_warnings = excluded.failing_warnings,
    updated_at = excluded.updated_at
WHERE (cc.compliance_status, cc.accessibility_label, cc.failing_errors, cc.unknown_errors,
       cc.failing_warnings)
      IS DISTINCT FROM (excluded.compliance_status, excluded.accessibility_label,
                        excluded.failing_errors, excluded.unknown_errors,
                        excluded.failing_warnings)
"""

# Which cabins to recompute: the given ones (a write, an import: all changes are theirs), or
# every cabin whose verdicts were rewritten by this pass, or every cabin.
COMPLIANCE_OF_IDS = COMPLIANCE_SQL_TEMPLATE.replace(
    "{cabins}", "v.cabin_id = ANY(CAST(:ids AS uuid[]))"
)
COMPLIANCE_OF_PASS = COMPLIANCE_SQL_TEMPLATE.replace(
    "{cabins}", "v.cabin_id IN (SELECT cabin_id FROM verdict WHERE evaluated_at = :at)"
)
COMPLIANCE_OF_ALL = COMPLIANCE_SQL_TEMPLATE.replace("{cabins}", "true")

# Verdicts of rules that are no longer enabled in the rule set in force: closed in the
# history (outcome not_applicable) and removed, so they no longer count.
RETIRE_SQL_TEMPLATE = """
WITH gone AS (
  DELETE FROM verdict
  WHERE rule_code <> ALL(CAST(:codes AS text[])) AND {cabins}
  RETURNING cabin_id, rule_code, outcome, severity
), logged AS (
  INSERT INTO verdict_change (cabin_id, rule_code, old_outcome, new_outcome, severity, evidence,
                              rule_set_version, profile, changed_at)
  SELECT cabin_id, rule_code, outcome, 'not_applicable', severity,
         jsonb_build_object('reason', 'the rule is not enabled in rule set ' || :version),
         :version, NULL, :at
  FROM gone WHERE outcome <> 'not_applicable'
)
SELECT count(*) FROM gone
"""


RETIRE_OF_IDS = RETIRE_SQL_TEMPLATE.replace("{cabins}", "cabin_id = ANY(CAST(:ids AS uuid[]))")
RETIRE_OF_ALL = RETIRE_SQL_TEMPLATE.replace("{cabins}", "true")


def now() -> datetime:
    return datetime.now(UTC)


def evaluate_cabins(
    session: Session,
    cabin_ids: list[uuid.UUID] | None,
    *,
    at: datetime | None = None,
    codes: Sequence[str] | None = None,
) -> EvaluationReport:
    """Evaluates the rule set in force over these cabins (None = every cabin) in the session's
    transaction, and recomputes their compliance. `at` is the evaluation time (default now);
    `codes` limits the pass to some rules (the bench uses it to split rules across workers)."""
    started = time.perf_counter()
    at = at or now()
    rule_set = planning.in_force(session)
    if rule_set is None:
        return EvaluationReport(rule_set_version=None)
    plan = planning.build(session, rule_set)
    report = EvaluationReport(rule_set_version=plan.version, unimplemented=plan.unimplemented)
    if cabin_ids is not None and not cabin_ids:
        return report
    session.flush()
    if cabin_ids is None and not session.scalar(select(exists().select_from(cabin))):
        return report
    runs = [run for run in plan.runs if codes is None or run.code in codes]
    if cabin_ids is not None and len(cabin_ids) <= ONE_STATEMENT_MAX_CABINS and runs:
        for run in runs:
            report.rules.setdefault(run.code, RuleReport())
        for code, changed, first, rewritten in session.execute(
            runs_statement(runs, cabin_ids, at, plan.version)
        ):
            totals = report.rules[code]
            totals.changed += changed
            totals.first += first
            totals.rewritten += rewritten
        runs = []
    for run in runs:
        statement = rule_statement(run, cabins_selectable(cabin_ids, run), at, plan.version)
        changed, first, rewritten = session.execute(statement).one()
        totals = report.rules.setdefault(run.code, RuleReport())
        totals.changed += changed
        totals.first += first
        totals.rewritten += rewritten
    ids = [str(i) for i in cabin_ids] if cabin_ids is not None else None
    if codes is None:
        retired = session.execute(
            text(RETIRE_OF_ALL if ids is None else RETIRE_OF_IDS),
            {"codes": plan.codes, "ids": ids, "version": plan.version, "at": at},
        ).scalar_one()
        refresh_compliance(session, cabin_ids, at, everything=retired > 0 and cabin_ids is None)
    report.seconds = time.perf_counter() - started
    return report


def refresh_compliance(
    session: Session,
    cabin_ids: list[uuid.UUID] | None,
    at: datetime,
    *,
    everything: bool = False,
) -> None:
    """Recomputes the status and label of the given cabins and of every cabin whose verdicts
    were rewritten at `at` (of every cabin when `everything`)."""
    if cabin_ids is not None:
        sql, values = COMPLIANCE_OF_IDS, {"at": at, "ids": [str(i) for i in cabin_ids]}
    elif everything:
        sql, values = COMPLIANCE_OF_ALL, {"at": at}
    else:
        sql, values = COMPLIANCE_OF_PASS, {"at": at}
    session.execute(text(sql), values)


def evaluate(session: Session, cabin_ids: list[uuid.UUID]) -> EvaluationReport:
    """The cabin write path's hook (service.cabins.service): these cabins, this transaction."""
    return evaluate_cabins(session, cabin_ids)


def reevaluate_all(session: Session, at: datetime | None = None) -> EvaluationReport:
    """Every cabin, one pass per rule: after a rule set is published or a layer vintage is
    loaded. Returns how many cabins changed outcome per rule."""
    return evaluate_cabins(session, None, at=at)


# Rules whose statements cost the most over all cabins (spatial joins, neighbour counts),
# spread first so that each worker gets a share of the heavy ones.
HEAVY_FIRST = ("SIT-10", "SIT-19", "SIT-09", "SIT-12", "SIT-03", "SIT-11", "SIT-02", "SIT-07")


def split_codes(codes: Sequence[str], workers: int) -> list[list[str]]:
    """Rule codes dealt to `workers` groups, heaviest first, round robin."""
    ordered = [c for c in HEAVY_FIRST if c in codes] + [c for c in codes if c not in HEAVY_FIRST]
    groups: list[list[str]] = [[] for _ in range(workers)]
    for i, code in enumerate(ordered):
        groups[i % workers].append(code)
    return [g for g in groups if g]


def reevaluate_all_parallel(engine: Any, workers: int = 2) -> EvaluationReport:
    """Every cabin, the rules split over `workers` connections running at once (one core
    each), then one short transaction that closes disabled rules and recomputes compliance.

    Each worker commits its own rules' verdicts when all workers have succeeded; a failure
    rolls every worker back. For the command line and batch jobs (not inside a request)."""
    from concurrent.futures import ThreadPoolExecutor

    started = time.perf_counter()
    at = now()
    with Session(engine) as session:
        rule_set = planning.in_force(session)
        if rule_set is None:
            return EvaluationReport(rule_set_version=None)
        plan = planning.build(session, rule_set)
    groups = split_codes(sorted({run.code for run in plan.runs}), workers)
    sessions = [Session(engine) for _ in groups]
    try:
        with ThreadPoolExecutor(max_workers=len(groups)) as pool:
            reports = list(
                pool.map(
                    lambda pair: evaluate_cabins(pair[0], None, at=at, codes=pair[1]),
                    zip(sessions, groups, strict=True),
                )
            )
        for session in sessions:
            session.commit()
    except BaseException:
        for session in sessions:
            session.rollback()
        raise
    finally:
        for session in sessions:
            session.close()
    report = EvaluationReport(rule_set_version=plan.version, unimplemented=plan.unimplemented)
    for part in reports:
        report.rules.update(part.rules)
    with Session(engine) as session:
        retired = session.execute(
            text(RETIRE_OF_ALL), {"codes": plan.codes, "version": plan.version, "at": at}
        ).scalar_one()
        refresh_compliance(session, None, at, everything=retired > 0)
        session.commit()
    report.seconds = time.perf_counter() - started
    return report
