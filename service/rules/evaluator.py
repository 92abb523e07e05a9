"""The evaluator: runs the rule set in force over a set of cabins (some ids, or all), one
statement per rule and parameter group, writing only what changed.

Each statement is `WITH v AS (<the rule's select, with the fingerprint of its evidence>),
d AS (<v joined to the stored verdicts, keeping the rows whose outcome, fingerprint, severity
or profile differ>), up AS (INSERT INTO verdict … ON CONFLICT DO UPDATE), ch AS (INSERT INTO
verdict_change <the rows of d whose outcome or severity changed>) SELECT <counts>`: the
evidence is built for the rows of `d` only (`service.rules.fingerprint`). Then the compliance
status and accessibility label of the cabins whose verdicts were rewritten are recomputed in
one statement.

A few cabins (a write, a small import) take one statement for every rule instead, rendered
once per rule set and day with the cabins and the time as its only parameters, and prepared
on the connection (`few_cabins_sql`).

The rules whose verdicts depend on other cabins (a `reach`, SIT-10) are then run over the
cabins around the written ones, when the caller says the write changed what those rules read
of them (a cabin became or stopped being active, or moved while active): one statement for
those rules over the cabins within each run's reach of the written cabins' points and of their
previous ones (`neighbours_sql`), and the compliance of the cabins it rewrote recomputed.

`evaluate_cabins` runs in the caller's session and transaction (the cabin write path calls it
through `evaluate`); `reevaluate_all` is the full pass after publishing a rule set or loading
a new layer vintage, in the caller's transaction (the batch pass of `registry rules
reevaluate`, the rules dealt over several connections, is `service.rules.parallel`).
`evaluate` holds the rule set in force shared (`plan.hold_in_force`), the full passes
exclusively (`plan.replace_in_force`, as a publication does): cabin writes evaluate side by
side, and never during a full pass; `evaluate_cabins` leaves that to its caller."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

import psycopg
from sqlalchemy import (
    CTE,
    ColumnElement,
    DateTime,
    Float,
    FromClause,
    Select,
    Table,
    and_,
    any_,
    bindparam,
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
    tuple_,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.types import Text, Uuid

from service.cabins.models import Cabin
from service.db import local_setting
from service.rules import plan as planning
from service.rules.catalogue.accessibility import INTERIOR_RULE, VENUE_RULE, label_sql
from service.rules.catalogue.base import RuleInput
from service.rules.catalogue.sqlkit import within_m
from service.rules.fingerprint import fingerprint
from service.rules.models import Verdict, VerdictChange
from service.sqltext import inline_sql
from service.timespans import today

cabin: Table = Cabin.__table__  # type: ignore[assignment]
verdict: Table = Verdict.__table__  # type: ignore[assignment]
verdict_change: Table = VerdictChange.__table__  # type: ignore[assignment]


@dataclass
class RuleReport:
    changed: int = 0
    """Cabins whose outcome changed (a first evaluation is not a change, nor a severity
    changed alone)."""
    first: int = 0
    """Cabins evaluated by this rule for the first time."""
    rewritten: int = 0
    """Verdict rows written (outcome, evidence, severity, profile or fingerprint changed)."""

    def add(self, changed: int, first: int, rewritten: int) -> None:
        self.changed += changed
        self.first += first
        self.rewritten += rewritten


@dataclass(frozen=True)
class RetiredReport:
    removed: int
    """Verdicts removed: the rule is no longer enabled."""
    failing: int
    """…of which failed (their cabins' compliance may change)."""


@dataclass
class EvaluationReport:
    rule_set_version: str | None
    rules: dict[str, RuleReport] = field(default_factory=dict)
    retired: dict[str, RetiredReport] = field(default_factory=dict)
    """The rules no longer enabled whose verdicts a full pass removed."""
    compliance: dict[str, tuple[int, int]] = field(default_factory=dict)
    """A publication's cabins per compliance status, before and after it."""
    unimplemented: list[str] = field(default_factory=list)
    seconds: float = 0.0
    rewritten_cabins: set[uuid.UUID] = field(default_factory=set)
    """The cabins whose verdicts a set-based pass rewrote (their compliance is recomputed)…"""
    rewritten_many: bool = False
    """…unless a rule rewrote more than `LISTED_REWRITES`: then every cabin's is."""
    neighbours: dict[str, RuleReport] = field(default_factory=dict)
    """The rules with a reach, run over the cabins around the written ones (`neighbours_of`)."""
    rewritten_neighbours: set[uuid.UUID] = field(default_factory=set)
    """The cabins around whose verdicts that rewrote (their compliance is recomputed)."""

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
            "retired": {
                code: {"removed": r.removed, "failing": r.failing}
                for code, r in sorted(self.retired.items())
            },
            "compliance": {
                status: {"before": before, "after": after}
                for status, (before, after) in sorted(self.compliance.items())
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
    return _cabins_where(conditions, run)


def _cabins_where(
    conditions: list[ColumnElement[bool]], run: planning.RuleRun | None = None
) -> FromClause:
    conditions = list(conditions)
    if run is not None:
        if run.regions is not None:
            conditions.append(cabin.c.region_code.in_(run.regions))
        elif run.excluded:
            conditions.append(
                or_(cabin.c.region_code.is_(None), cabin.c.region_code.not_in(run.excluded))
            )
    return select(cabin).where(*conditions).subquery("cabins")


def produced_by(run: planning.RuleRun, inp: RuleInput) -> Select[Any]:
    """A run's verdicts as the rows `write_changes` reads: cabin_id, rule_code, outcome,
    evidence (tagged with the run's profile), fingerprint (of the evidence, `fingerprint`),
    severity, profile."""
    statement = run.definition.implementation(inp)
    # the seed from the rule over every cabin, whichever cabins this run covers
    shape = run.definition.implementation(replace(inp, cabins=cabins_selectable(None), few=False))
    built = fingerprint(statement.selected_columns.evidence, shape.selected_columns.evidence)
    produced = statement.add_columns(built.label("fingerprint")).subquery()
    evidence: ColumnElement[Any] = produced.c.evidence
    if run.profile is not None:
        evidence = evidence.op("||")(func.jsonb_build_object("profile", run.profile, type_=JSONB))
    profile = literal(run.profile, Text) if run.profile is not None else cast(null(), Text)
    return select(
        produced.c.cabin_id,
        literal(run.code, Text).label("rule_code"),
        produced.c.outcome,
        evidence.label("evidence"),
        produced.c.fingerprint,
        literal(run.severity, Text).label("severity"),
        profile.label("profile"),
    )


def write_changes(produced: CTE, at: ColumnElement[Any], version: str) -> tuple[CTE, CTE]:
    """The verdicts of `produced` (see `produced_by`) that differ from the stored ones, upserted
    (`up`: cabin_id, rule_code of each row written) and, where the outcome or the severity
    moved, appended to the history (`ch`: rule_code, old_outcome, new_outcome of each change).
    A severity changed alone (a publication making a warning an error) is a row whose old and
    new outcomes are the same: the change feed serves it, so that a copy kept from the feed
    holds the new severity; `failing_since` and the as-of reads skip it.

    A verdict differs when its outcome, fingerprint, severity or profile does: the evidence
    is not compared, so PostgreSQL builds it only for the rows that differ (when the rule's
    select is pulled up into this one, as most are)."""
    v = produced.c
    old = verdict.alias("old")
    diff = (
        select(
            v.cabin_id,
            v.rule_code,
            v.outcome,
            v.evidence,
            v.fingerprint,
            v.severity,
            v.profile,
            old.c.outcome.label("old_outcome"),
            old.c.severity.label("old_severity"),
            old.c.failing_since.label("old_failing_since"),
        )
        .select_from(
            produced.outerjoin(
                old, and_(old.c.cabin_id == v.cabin_id, old.c.rule_code == v.rule_code)
            )
        )
        .where(
            or_(
                old.c.outcome.is_distinct_from(v.outcome),
                old.c.fingerprint.is_distinct_from(v.fingerprint),
                old.c.severity.is_distinct_from(v.severity),
                old.c.profile.is_distinct_from(v.profile),
            )
        )
        .cte("d")
    )
    failing_since = case(
        (
            diff.c.outcome == "fail",
            func.coalesce(case((diff.c.old_outcome == "fail", diff.c.old_failing_since)), at),
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
        "fingerprint",
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
            at,
            literal(version, Text),
            diff.c.profile,
            diff.c.fingerprint,
        ),
    )
    # A verdict rewritten for its fingerprint alone (none stored yet, or the code that builds
    # its evidence changed) keeps when and under which rule set it last changed.
    stored = tuple_(verdict.c.outcome, verdict.c.evidence, verdict.c.severity, verdict.c.profile)
    new = tuple_(
        upsert.excluded.outcome,
        upsert.excluded.evidence,
        upsert.excluded.severity,
        upsert.excluded.profile,
    )
    unchanged = stored.is_not_distinct_from(new)
    kept = {
        name: case((unchanged, verdict.c[name]), else_=upsert.excluded[name])
        for name in ("evaluated_at", "rule_set_version")
    }
    up = (
        upsert.on_conflict_do_update(
            index_elements=["cabin_id", "rule_code"],
            set_={name: kept.get(name, upsert.excluded[name]) for name in columns[2:]},
        )
        .returning(verdict.c.cabin_id, verdict.c.rule_code)
        .cte("up")
    )
    ch = (
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
                at,
            ).where(
                or_(
                    diff.c.old_outcome.is_distinct_from(diff.c.outcome),
                    diff.c.old_severity.is_distinct_from(diff.c.severity),
                )
            ),
        )
        .returning(
            verdict_change.c.rule_code,
            verdict_change.c.old_outcome,
            verdict_change.c.new_outcome,
        )
        .cte("ch")
    )
    return up, ch


def _outcome_moved(ch: CTE) -> ColumnElement[bool]:
    """A change of `write_changes` that moved an outcome (not a first evaluation, nor a
    severity changed alone)."""
    return and_(ch.c.old_outcome.is_not(None), ch.c.old_outcome != ch.c.new_outcome)


def rule_statement(run: planning.RuleRun, cabins: FromClause, at: datetime, version: str) -> Any:
    """The one statement of a run over many cabins: upsert the changed verdicts, append the
    changes; one row of counts (changed: outcomes moved, first, rewritten, the rewritten
    cabins' ids when they are at most LISTED_REWRITES)."""
    produced = produced_by(run, RuleInput(cabins=cabins, params=run.params, at=today(at)))
    up, ch = write_changes(produced.cte("v"), literal(at), version)
    return select(
        select(func.count()).select_from(ch).where(_outcome_moved(ch)).scalar_subquery(),
        select(func.count()).select_from(ch).where(ch.c.old_outcome.is_(None)).scalar_subquery(),
        select(func.count()).select_from(up).scalar_subquery(),
        select(
            case((func.count() <= LISTED_REWRITES, func.array_agg(up.c.cabin_id)), else_=null())
        ).scalar_subquery(),
    )


# A set-based pass lists the cabins it rewrote up to this many per rule (their compliance is
# then recomputed by id); beyond, it recomputes every cabin's.
LISTED_REWRITES = 20_000


def runs_statement(
    runs: Sequence[planning.RuleRun],
    cabins_of: Callable[[planning.RuleRun], ColumnElement[bool]],
    day: date,
    version: str,
    *,
    listed: bool = False,
) -> Any:
    """Every run over a few cabins in ONE statement (the rule selects UNION ALL, then the same
    `write_changes` as `rule_statement`): a cabin write pays one round trip instead of one per
    rule. `cabins_of(run)` selects them by bound parameters (`:cabin_id` or `:ids`, or the
    cabins around, `neighbours_statement`), and the evaluation time is the parameter `:at` (on
    `day`), so that the statement is rendered once per rule set and day (`few_cabins_sql`) and
    prepared on each connection, PostgreSQL keeping its plan. Rows: (rule_code, changed,
    first, rewritten), and the ids of the cabins rewritten when `listed`."""
    at = bindparam("at", _AT_PLACEHOLDER, type_=DateTime(timezone=True))
    parts = [
        produced_by(
            run,
            RuleInput(
                cabins=_cabins_where([cabins_of(run)], run), params=run.params, at=day, few=True
            ),
        )
        for run in runs
    ]
    up, ch = write_changes(union_all(*parts).cte("v"), at, version)
    return counts_per_rule(up, ch, cabins=listed)


def counts_per_rule(up: CTE, ch: CTE, *, cabins: bool = False) -> Select[Any]:
    """One row per rule that rewrote verdicts: (rule_code, changed, first, rewritten), and
    the ids of the cabins rewritten when `cabins`."""
    changes = (
        select(
            ch.c.rule_code,
            func.count().filter(_outcome_moved(ch)).label("changed"),
            func.count().filter(ch.c.old_outcome.is_(None)).label("first"),
        )
        .group_by(ch.c.rule_code)
        .subquery("changes")
    )
    rewritten: list[ColumnElement[Any]] = [func.count().label("rewritten")]
    if cabins:
        rewritten.append(func.array_agg(up.c.cabin_id).label("cabins"))
    rewrites = select(up.c.rule_code, *rewritten).group_by(up.c.rule_code).subquery("rewrites")
    return select(
        rewrites.c.rule_code,
        func.coalesce(changes.c.changed, 0),
        func.coalesce(changes.c.first, 0),
        *[c for c in rewrites.c if c.name != "rule_code"],
    ).select_from(rewrites.outerjoin(changes, changes.c.rule_code == rewrites.c.rule_code))


def neighbours_statement(runs: Sequence[planning.RuleRun], day: date, version: str) -> Select[Any]:
    """The runs with a reach over the cabins within their reach of the points of `:around`
    (written cabins, their points as written) and of the previous points `:lons`, `:lats`,
    leaving out the cabins `:written` (evaluated already), in ONE statement built by
    `runs_statement`. Each run takes its own reach (a profile may change it) and the cabins
    of its own régions, so a cabin across a régional border is measured with its own radius.
    Rows: (rule_code, changed, first, rewritten, the ids of the cabins rewritten)."""
    placeholder = [uuid.UUID(int=0)]
    around = bindparam("around", placeholder, type_=ARRAY(Uuid))
    written = bindparam("written", placeholder, type_=ARRAY(Uuid))
    moved = cabin.alias("moved")
    previous = (
        func.unnest(
            bindparam("lons", [0.0], type_=ARRAY(Float)),
            bindparam("lats", [0.0], type_=ARRAY(Float)),
        )
        .table_valued("lon", "lat")
        .render_derived("previous", with_types=False)
    )
    points = union_all(
        select(moved.c.geom.label("geom")).where(moved.c.id == any_(around)),
        select(
            func.ST_SetSRID(func.ST_MakePoint(previous.c.lon, previous.c.lat), 4326).label("geom")
        ),
    ).cte("points")

    def around_points(run: planning.RuleRun) -> ColumnElement[bool]:
        reach = run.reach_m
        assert reach is not None
        near = cabin.alias("near")
        # found from each point through the GiST index, then one row per cabin (IN); the
        # written ones left out by a hashed subplan (`<> ALL` of an import's 100,000 ids,
        # under the prepared statement's generic plan, is a scan of the array per cabin)
        nearby = (
            select(near.c.id)
            .join_from(points, near, within_m(points.c.geom, near.c.geom, reach))
            .where(near.c.id.not_in(select(func.unnest(written))))
        )
        return cabin.c.id.in_(nearby)

    return runs_statement(runs, around_points, day, version, listed=True)


# Up to this many cabins (a write, a small import), a pass is one statement for all rules.
ONE_STATEMENT_MAX_CABINS = 50

# The one-statement pass of a plan, rendered once per rule set, day and kind (one cabin by
# `cabin_id`, a few by `ids`): building and compiling twenty rule selects, and having the
# driver split a statement of 1,200 bound constants, costs far more than running it for one
# cabin. The entry keeps its plan so that a rebuilt plan (a draft) never reuses another's SQL.
_FEW_CABINS: dict[tuple[str, date, str, tuple[str, ...] | None], tuple[planning.Plan, str]] = {}

# Placeholder values of the statement's parameters while it is rendered (never executed).
_AT_PLACEHOLDER = datetime(2000, 1, 1, tzinfo=UTC)
_PARAMETERS = ("cabin_id", "ids", "at", "around", "written", "lons", "lats")


def _rendered(
    session: Session,
    plan: planning.Plan,
    key: tuple[str, date, str, tuple[str, ...] | None],
    build: Callable[[], Any],
) -> str:
    """The SQL of the statement `build` makes, with its constants inline, cached by `key`
    (rule set, day, kind, codes) as long as the plan is the same."""
    cached = _FEW_CABINS.get(key)
    if cached is not None and cached[0] is plan:
        return cached[1]
    sql = inline_sql(session, build(), keep=_PARAMETERS)
    if len(_FEW_CABINS) > 64:  # days go by: forget the old ones
        _FEW_CABINS.clear()
    _FEW_CABINS[key] = (plan, sql)
    return sql


def few_cabins_sql(
    session: Session,
    plan: planning.Plan,
    runs: Sequence[planning.RuleRun],
    day: date,
    *,
    single: bool,
    codes: Sequence[str] | None = None,
) -> str:
    """The SQL of `runs_statement` over `%(cabin_id)s` (single) or `%(ids)s`, at `%(at)s`,
    its constants written inline (`service.sqltext.inline_sql`), cached.
    `evaluate_cabins` prepares it on the connection: with every constant in the text,
    PostgreSQL's generic plan is as good as a custom one, and the statement is planned once
    per connection instead of per write."""
    key = (
        plan.version,
        day,
        "one" if single else "few",
        tuple(codes) if codes is not None else None,
    )
    if single:
        cabins = cabin.c.id == bindparam("cabin_id", uuid.UUID(int=0), type_=Uuid)
    else:
        cabins = cabin.c.id == any_(bindparam("ids", [uuid.UUID(int=0)], type_=ARRAY(Uuid)))
    return _rendered(
        session, plan, key, lambda: runs_statement(runs, lambda run: cabins, day, plan.version)
    )


def neighbours_sql(
    session: Session,
    plan: planning.Plan,
    runs: Sequence[planning.RuleRun],
    day: date,
    codes: Sequence[str] | None = None,
) -> str:
    """The SQL of `neighbours_statement` over `%(around)s`, `%(written)s`, `%(lons)s`,
    `%(lats)s`, at `%(at)s`, cached and prepared as `few_cabins_sql`'s."""
    key = (plan.version, day, "neighbours", tuple(codes) if codes is not None else None)
    return _rendered(session, plan, key, lambda: neighbours_statement(runs, day, plan.version))


def run_prepared(session: Session, sql: str, values: dict[str, Any]) -> list[Any]:
    """Runs `sql` on the session's connection, in its transaction, prepared at once (psycopg
    would wait for five runs); a driver error is raised as SQLAlchemy's, as any other
    statement's would be."""
    driver = session.connection().connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    try:
        with driver.cursor() as cursor:
            return cursor.execute(sql, values, prepare=True).fetchall()
    except psycopg.Error as error:
        raise DBAPIError.instance(sql, values, error, psycopg.Error) from error


# Compliance: `compliant` when no error rule fails, `non_compliant` when one does,
# `incomplete` when an error rule is unknown and none fails. The accessibility label from the
# outcomes of SIT-17 (venue) and SIT-18 (cabin interior): `catalogue.accessibility.label_sql`.
# The one definition of a cabin's compliance from its verdicts `v` (rule_code, severity,
# outcome), aggregated: stored here, and read by the as-of and what-if answers
# (`queries.derive_status`). A cabin has one verdict per rule: the outcome of a rule is the
# min of its one row.
_LABEL = label_sql(
    f"min(v.outcome) FILTER (WHERE v.rule_code = '{VENUE_RULE}')",
    f"min(v.outcome) FILTER (WHERE v.rule_code = '{INTERIOR_RULE}')",
)
COMPLIANCE_COLUMNS = f"""
       CASE WHEN bool_or(v.severity = 'error' AND v.outcome = 'fail') THEN 'non_compliant'
            WHEN bool_or(v.severity = 'error' AND v.outcome = 'unknown') THEN 'incomplete'
            ELSE 'compliant' END AS compliance_status,
       {_LABEL} AS accessibility_label,
       coalesce(array_agg(v.rule_code ORDER BY v.rule_code)
                FILTER (WHERE v.severity = 'error' AND v.outcome = 'fail'), '{{}}')
         AS failing_errors,
       coalesce(array_agg(v.rule_code ORDER BY v.rule_code)
                FILTER (WHERE v.severity = 'error' AND v.outcome = 'unknown'), '{{}}')
         AS unknown_errors,
       coalesce(array_agg(v.rule_code ORDER BY v.rule_code)
                FILTER (WHERE v.severity = 'warning' AND v.outcome = 'fail'), '{{}}')
         AS failing_warnings"""

COMPLIANCE_SQL = f"""
INSERT INTO cabin_compliance AS cc (cabin_id, compliance_status, accessibility_label,
                                    failing_errors, unknown_errors, failing_warnings, updated_at)
SELECT v.cabin_id,{COMPLIANCE_COLUMNS},
       :at
FROM verdict v
WHERE {{cabins}}
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
COMPLIANCE_OF_IDS = COMPLIANCE_SQL.replace("{cabins}", "v.cabin_id = ANY(CAST(:ids AS uuid[]))")
COMPLIANCE_OF_ALL = COMPLIANCE_SQL.replace("{cabins}", "true")

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
SELECT rule_code, count(*) AS removed, count(*) FILTER (WHERE outcome = 'fail') AS failing
FROM gone GROUP BY rule_code
"""


RETIRE_OF_IDS = RETIRE_SQL_TEMPLATE.replace("{cabins}", "cabin_id = ANY(CAST(:ids AS uuid[]))")
# Over every cabin, the codes to retire are named (read first with STORED_CODES), so that the
# delete finds their rows through the index on rule_code instead of reading every verdict.
RETIRE_OF_CODES = RETIRE_SQL_TEMPLATE.replace("{cabins}", "rule_code = ANY(CAST(:stale AS text[]))")

# The rule codes that have verdicts, by skipping along the index on (rule_code, outcome):
# one probe per code.
STORED_CODES = """
WITH RECURSIVE codes(code) AS (
  (SELECT rule_code FROM verdict ORDER BY rule_code LIMIT 1)
  UNION ALL
  SELECT (SELECT v.rule_code FROM verdict v WHERE v.rule_code > codes.code
          ORDER BY v.rule_code LIMIT 1)
  FROM codes WHERE codes.code IS NOT NULL
)
SELECT code FROM codes WHERE code IS NOT NULL
"""


def retire_everywhere(
    session: Session, plan: planning.Plan, at: datetime
) -> dict[str, RetiredReport]:
    """Closes and removes the verdicts of rules not enabled in the plan, for every cabin;
    returns how many were removed per rule, and how many of them failed."""
    stale = [code for code in session.scalars(text(STORED_CODES)) if code not in plan.codes]
    if not stale:
        return {}
    rows = session.execute(
        text(RETIRE_OF_CODES),
        {"codes": plan.codes, "stale": stale, "version": plan.version, "at": at},
    )
    return {row.rule_code: RetiredReport(row.removed, row.failing) for row in rows}


def now() -> datetime:
    return datetime.now(UTC)


Point = tuple[float, float]
"""(lon, lat) in EPSG:4326."""


def evaluate_cabins(
    session: Session,
    cabin_ids: list[uuid.UUID] | None,
    *,
    at: datetime | None = None,
    codes: Sequence[str] | None = None,
    neighbours_of: Mapping[uuid.UUID, Point | None] | None = None,
) -> EvaluationReport:
    """Evaluates the rule set in force over these cabins (None = every cabin) in the session's
    transaction, and recomputes their compliance. `at` is the evaluation time (default now);
    `codes` limits the pass to some rules (the bench uses it to split rules across workers).
    `neighbours_of`: the written cabins that became or stopped being active, or moved while
    active, each with its point before the write when it moved (else None): the rules with a
    reach are then run over the other cabins around them (`evaluate_neighbours`)."""
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
    reaching = [run for run in runs if run.reach_m is not None]
    if cabin_ids is not None and len(cabin_ids) <= ONE_STATEMENT_MAX_CABINS and runs:
        for run in runs:
            report.rules.setdefault(run.code, RuleReport())
        single = len(cabin_ids) == 1
        sql = few_cabins_sql(session, plan, runs, today(at), single=single, codes=codes)
        values: dict[str, Any] = {"at": at}
        if single:
            values["cabin_id"] = cabin_ids[0]
        else:
            values["ids"] = list(cabin_ids)
        for code, changed, first, rewritten in run_prepared(session, sql, values):
            report.rules[code].add(changed, first, rewritten)
        runs = []
    # The set-based statements are large expressions (CASEs, JSON evidence) over many rows,
    # which the JIT compiles anew for every statement, costing more than it saves (up to
    # seconds for SIT-07 and SIT-19 over 100,000 cabins): jit off for them.
    with local_setting(session, "jit", "off" if runs else None):
        for run in runs:
            statement = rule_statement(run, cabins_selectable(cabin_ids, run), at, plan.version)
            changed, first, rewritten, rewritten_ids = session.execute(statement).one()
            report.rules.setdefault(run.code, RuleReport()).add(changed, first, rewritten)
            if rewritten_ids is not None:
                report.rewritten_cabins.update(rewritten_ids)
            elif rewritten:  # more than listed (none rewritten: no list either)
                report.rewritten_many = True
    if codes is None:
        if cabin_ids is None:
            finish_full_pass(session, plan, report, at)
        else:
            session.execute(
                text(RETIRE_OF_IDS),
                {
                    "codes": plan.codes,
                    "ids": [str(i) for i in cabin_ids],
                    "version": plan.version,
                    "at": at,
                },
            )
            refresh_compliance(session, cabin_ids, at)
    if cabin_ids and neighbours_of and reaching:
        evaluate_neighbours(session, plan, reaching, cabin_ids, neighbours_of, at, codes, report)
    report.seconds = time.perf_counter() - started
    return report


def evaluate_neighbours(
    session: Session,
    plan: planning.Plan,
    runs: Sequence[planning.RuleRun],
    written: Sequence[uuid.UUID],
    changed: Mapping[uuid.UUID, Point | None],
    at: datetime,
    codes: Sequence[str] | None,
    report: EvaluationReport,
) -> None:
    """The runs with a reach over the cabins (other than `written`) within their reach of the
    `changed` cabins' points and previous points, in one prepared statement; then the
    compliance of the cabins it rewrote. Added to `report.neighbours`."""
    previous = [point for point in changed.values() if point is not None]
    values: dict[str, Any] = {
        "at": at,
        "around": list(changed),
        "written": list(written),
        "lons": [lon for lon, _lat in previous],
        "lats": [lat for _lon, lat in previous],
    }
    sql = neighbours_sql(session, plan, runs, today(at), codes)
    for code, changed_n, first, rewritten, cabins in run_prepared(session, sql, values):
        report.neighbours.setdefault(code, RuleReport()).add(changed_n, first, rewritten)
        report.rewritten_neighbours.update(cabins)
    refresh_compliance(session, sorted(report.rewritten_neighbours), at)


def finish_full_pass(
    session: Session, plan: planning.Plan, report: EvaluationReport, at: datetime
) -> None:
    """After every rule has run over every cabin: the verdicts of rules no longer enabled are
    retired, and the compliance of the cabins whose verdicts were rewritten is recomputed (of
    every cabin when a rule rewrote too many to list, or when verdicts were retired)."""
    report.retired = retire_everywhere(session, plan, at)
    refresh_compliance(
        session,
        sorted(report.rewritten_cabins),
        at,
        everything=bool(report.retired) or report.rewritten_many,
    )


def refresh_compliance(
    session: Session,
    cabin_ids: Sequence[uuid.UUID],
    at: datetime,
    *,
    everything: bool = False,
) -> None:
    """Recomputes the status and label of the given cabins (of every cabin when
    `everything`)."""
    if everything:
        session.execute(text(COMPLIANCE_OF_ALL), {"at": at})
    elif cabin_ids:
        session.execute(text(COMPLIANCE_OF_IDS), {"at": at, "ids": [str(i) for i in cabin_ids]})


def recompute_compliance(session: Session, at: datetime | None = None) -> int:
    """Every cabin's compliance status and accessibility label recomputed from its stored
    verdicts, in the session's transaction, holding the rule set in force as a full pass
    does; returns how many cabins' changed. A pass recomputes only the cabins whose verdicts
    it rewrote: after an upgrade that changes how status or label are derived, this brings
    the others in line (`registry rules recompute-compliance`)."""
    planning.replace_in_force(session)
    result = session.connection().execute(text(COMPLIANCE_OF_ALL), {"at": at or now()})
    return result.rowcount


# Writes that other cabins' verdicts can see (`neighbours_of`) take this pg_advisory_xact_lock
# in turn, before evaluating anything, until their transactions end: two of them side by side
# would each evaluate the cabins around from a snapshot without the other's change (two cabins
# activated at the same corner would each count the other as inactive), and would write each
# other's verdicts and compliance in opposite orders (a deadlock). Today every cabin write
# appends to the audit trail before it evaluates, and the trail's tail lock
# (`audit.trail.lock_tail`) already puts all cabin writes in turn, the plain ones too (a fees
# PATCH beside an activation reads its verdicts after it); this lock keeps the engine's own
# guarantee should a caller evaluate without that lock. (A constant unique to this use.)
NEIGHBOURS_LOCK_KEY = 0x6E65696768626F72  # "neighbor"


def evaluate(
    session: Session,
    cabin_ids: list[uuid.UUID],
    *,
    neighbours_of: Mapping[uuid.UUID, Point | None] | None = None,
) -> EvaluationReport:
    """The cabin write path's hook (service.cabins.service): these cabins, this transaction,
    under the rule set in force (waiting for a publication under way); and the cabins around
    those of `neighbours_of` for the rules with a reach (see `evaluate_cabins`)."""
    planning.hold_in_force(session)
    if neighbours_of:
        session.execute(select(func.pg_advisory_xact_lock(NEIGHBOURS_LOCK_KEY)))
    return evaluate_cabins(session, cabin_ids, neighbours_of=neighbours_of)


COMPLIANCE_COUNTS = (
    "SELECT compliance_status, count(*) FROM cabin_compliance GROUP BY compliance_status"
)


def compliance_counts(session: Session) -> dict[str, int]:
    """Cabins per compliance status (a cabin never evaluated has none)."""
    return {status: n for status, n in session.execute(text(COMPLIANCE_COUNTS)).tuples()}


def reevaluate_all(session: Session, at: datetime | None = None) -> EvaluationReport:
    """Every cabin, one pass per rule, in the session's transaction: after a rule set is
    published or a layer vintage is loaded. Returns how many cabins changed outcome per rule.
    Cabin writes wait for the transaction to end (`plan.replace_in_force`)."""
    planning.replace_in_force(session)
    return evaluate_cabins(session, None, at=at)
