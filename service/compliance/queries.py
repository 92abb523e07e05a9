"""Every SQL statement of the regulator views except coverage: the cabin rows with their
failing verdicts (one page, or a stream for the exports), the GeoJSON feature of each row
built by PostGIS, the summary by territory / operator / rule (one statement), and the feed of
verdict changes."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Numeric,
    RowMapping,
    Select,
    String,
    Text,
    and_,
    any_,
    case,
    cast,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSON, JSONB, aggregate_order_by, array
from sqlalchemy.orm import Session

from service.auth.deps import Principal
from service.auth.models import Operator
from service.cabins.models import Cabin
from service.cabins.queries import visible_to
from service.compliance.filters import Filters, condition
from service.compliance.models import CabinRegionChange, ComplianceTally, rule_bit
from service.rules.models import CabinCompliance, Rule, RuleSet, Verdict, VerdictChange, Xid8
from service.territories.models import Commune, Departement, Region
from service.territories.queries import current_layer_ids

STREAM_BATCH = 1000


def _failing_verdicts() -> Any:
    """The cabin's failing verdicts as a JSON array, ordered by rule code."""
    item = func.json_build_object(
        "rule",
        Verdict.rule_code,
        "severity",
        Verdict.severity,
        "failing_since",
        Verdict.failing_since,
        "evidence",
        Verdict.evidence,
    )
    return (
        select(
            func.coalesce(
                func.json_agg(aggregate_order_by(item, Verdict.rule_code)),
                literal_column("'[]'::json"),
            )
        )
        .where(Verdict.cabin_id == Cabin.id, Verdict.outcome == "fail")
        .scalar_subquery()
    )


def _commune_name() -> Any:
    return (
        select(Commune.name)
        .where(
            Commune.insee == Cabin.commune_insee,
            Commune.layer_id.in_(current_layer_ids("commune")),
        )
        .limit(1)
        .scalar_subquery()
    )


def _empty_codes(column: Any) -> Any:
    return func.coalesce(column, cast(literal("{}"), ARRAY(String)))


ROW_COLUMNS = (
    Cabin.id.label("id"),
    Cabin.reference.label("reference"),
    Cabin.operator_id.label("operator_id"),
    Operator.name.label("operator_name"),
    Cabin.operator_reference.label("operator_reference"),
    Cabin.status.label("status"),
    Cabin.venue_kind.label("venue_kind"),
    Cabin.venue_name.label("venue_name"),
    Cabin.commune_insee.label("commune_insee"),
    Cabin.departement_code.label("departement_code"),
    Cabin.region_code.label("region_code"),
    Cabin.epci_siren.label("epci_siren"),
    func.ST_X(Cabin.geom).label("lon"),
    func.ST_Y(Cabin.geom).label("lat"),
    CabinCompliance.compliance_status.label("compliance_status"),
    CabinCompliance.accessibility_label.label("accessibility_label"),
    _empty_codes(CabinCompliance.unknown_errors).label("unknown_rules"),
    Cabin.ars_declaration_date.label("ars_declaration_date"),
    Cabin.ars_declaration_reference.label("ars_declaration_reference"),
    Cabin.ars_received_date.label("ars_received_date"),
    CabinCompliance.updated_at.label("evaluated_at"),
)


def _scoped_cabins(
    columns: Sequence[Any], principal: Principal, filters: Filters, *, any_status: bool = False
) -> Select[Any]:
    return (
        select(*columns)
        .select_from(Cabin)
        .join(Operator, Operator.id == Cabin.operator_id)
        .outerjoin(CabinCompliance, CabinCompliance.cabin_id == Cabin.id)
        .where(condition(principal, filters, any_status=any_status))
    )


def rows_statement(
    principal: Principal, filters: Filters, *, any_status: bool = False
) -> Select[Any]:
    """One row per cabin in scope and matching the filters, in id order (the keyset)."""
    columns = (
        *ROW_COLUMNS,
        _commune_name().label("commune_name"),
        _failing_verdicts().label("failing"),
    )
    return _scoped_cabins(columns, principal, filters, any_status=any_status).order_by(Cabin.id)


def page(
    session: Session,
    principal: Principal,
    filters: Filters,
    *,
    after: uuid.UUID | None,
    limit: int,
) -> Sequence[RowMapping]:
    stmt = rows_statement(principal, filters)
    if after is not None:
        stmt = stmt.where(Cabin.id > after)
    return session.execute(stmt.limit(limit)).mappings().all()


def one(session: Session, principal: Principal, cabin_id: uuid.UUID) -> RowMapping | None:
    """One cabin's row, whatever its status, if the caller may see it."""
    stmt = rows_statement(principal, Filters(), any_status=True).where(Cabin.id == cabin_id)
    return session.execute(stmt).mappings().first()


def stream_rows(session: Session, principal: Principal, filters: Filters) -> Iterator[RowMapping]:
    """Every matching row through a server-side cursor, `STREAM_BATCH` rows at a time."""
    result = session.execute(
        rows_statement(principal, filters).execution_options(yield_per=STREAM_BATCH)
    )
    yield from result.mappings()


def stream_features(session: Session, principal: Principal, filters: Filters) -> Iterator[str]:
    """Every matching row as one RFC 7946 Feature, serialised by PostGIS (coordinates in
    WGS 84 longitude, latitude; no `crs` member). Its properties are the CSV's columns but
    the id and the point (the Feature's own), with the failing verdicts as one array."""
    properties = func.json_build_object(
        "reference",
        Cabin.reference,
        "operator_id",
        Cabin.operator_id,
        "operator_name",
        Operator.name,
        "operator_reference",
        Cabin.operator_reference,
        "status",
        Cabin.status,
        "venue_kind",
        Cabin.venue_kind,
        "venue_name",
        Cabin.venue_name,
        "commune_insee",
        Cabin.commune_insee,
        "commune_name",
        _commune_name(),
        "departement_code",
        Cabin.departement_code,
        "region_code",
        Cabin.region_code,
        "epci_siren",
        Cabin.epci_siren,
        "compliance_status",
        CabinCompliance.compliance_status,
        "accessibility_label",
        CabinCompliance.accessibility_label,
        "unknown_rules",
        _empty_codes(CabinCompliance.unknown_errors),
        "ars_declaration_date",
        Cabin.ars_declaration_date,
        "ars_declaration_reference",
        Cabin.ars_declaration_reference,
        "ars_received_date",
        Cabin.ars_received_date,
        "evaluated_at",
        CabinCompliance.updated_at,
        "failing",
        _failing_verdicts(),
    )
    feature = func.json_build_object(
        "type",
        "Feature",
        "id",
        cast(Cabin.id, String),
        "geometry",
        cast(func.ST_AsGeoJSON(Cabin.geom, 7), JSON),
        "properties",
        properties,
    )
    stmt = (
        _scoped_cabins((cast(feature, String).label("feature"),), principal, filters)
        .order_by(Cabin.id)
        .execution_options(yield_per=STREAM_BATCH)
    )
    for row in session.execute(stmt):
        yield row[0]


# --- the summary: one statement per request --------------------------------------------------


def _group_key(by: str) -> tuple[Any, Any]:
    """The grouping column on `cabin` and a correlated name lookup for one group key."""
    if by == "region":
        return Cabin.region_code, (Region.name, Region.code, Region.layer_id, "region")
    if by == "departement":
        return Cabin.departement_code, (
            Departement.name,
            Departement.code,
            Departement.layer_id,
            "departement",
        )
    if by == "commune":
        return Cabin.commune_insee, (Commune.name, Commune.insee, Commune.layer_id, "commune")
    return cast(Cabin.operator_id, String), None


def _names(by: str) -> Any:
    """code → name of the groups, as a subquery joined by hash (not one lookup per group)."""
    if by == "operator":
        return select(cast(Operator.id, String).label("code"), Operator.name.label("name"))
    _, naming = _group_key(by)
    name_column, code_column, layer_column, kind = naming
    return select(code_column.label("code"), name_column.label("name")).where(
        layer_column.in_(current_layer_ids(kind))
    )


def rule_codes() -> list[str]:
    """Every rule code a verdict can carry: the catalogue's implementations."""
    from service.rules.catalogue import REGISTRY

    return sorted(REGISTRY)


@dataclass(frozen=True)
class SummaryDocument:
    """The groups as a JSON array serialised by PostgreSQL, and the totals over them."""

    groups_json: str
    totals: dict[str, Any]


def _json_value(value: Any) -> Any:
    """A scalar as JSON text (`null` for NULL): strings quoted and escaped by PostgreSQL."""
    return func.coalesce(cast(func.to_json(value), Text), literal("null"))


def summary(session: Session, principal: Principal, filters: Filters, by: str) -> SummaryDocument:
    """Counts per group: cabins, compliant / non_compliant / incomplete / not evaluated, the
    rate, and the cabins failing each rule.

    One statement and one pass over `cabin` and `compliance_tally` (a parallel hash aggregate
    by the group's code): each rule's failures are one bit test on the cabin's failing-rules
    mask; the group names are joined by hash once the groups are counted; every group is then
    written as JSON text by PostgreSQL and joined into one array (tens of thousands of
    communes need no Python object each), beside the totals. `cabin_compliance` is joined only
    when a filter needs it (compliance) or a rule code has no bit."""
    key_column, _ = _group_key(by)
    tally = ComplianceTally
    status = tally.compliance_status
    codes = rule_codes()
    without_bit = [code for code in codes if rule_bit(code) is None]

    def fails(code: str) -> ColumnElement[bool]:
        bit = rule_bit(code)
        if bit is not None:
            return tally.failing.op("&")(literal(1 << bit, BigInteger)) != 0
        return or_(
            literal(code) == any_(CabinCompliance.failing_errors),
            literal(code) == any_(CabinCompliance.failing_warnings),
        )

    counted = (
        select(
            key_column.label("key"),
            func.count().label("cabins"),
            func.count().filter(status == "compliant").label("compliant"),
            func.count().filter(status == "non_compliant").label("non_compliant"),
            func.count().filter(status == "incomplete").label("incomplete"),
            func.count().filter(status.is_(None)).label("not_evaluated"),
            *(func.count().filter(fails(code)).label(f"rule_{i}") for i, code in enumerate(codes)),
        )
        .select_from(Cabin)
        .outerjoin(tally, tally.cabin_id == Cabin.id)
    )
    if filters.compliance is not None or without_bit:
        counted = counted.outerjoin(CabinCompliance, CabinCompliance.cabin_id == Cabin.id)
    grouped = counted.where(condition(principal, filters)).group_by(key_column).subquery("grouped")
    g = grouped.c
    names = _names(by).subquery("names")
    # {"SIT-03":4,…} for the rules with failures; codes are catalogue constants of the form
    # SIT-03, safe inside JSON quotes.
    assert all(re.fullmatch(r"[A-Z0-9-]+", code) for code in codes)
    failures = func.concat_ws(
        ",",
        *(
            case((g[f"rule_{i}"] > 0, func.concat(f'"{code}":', g[f"rule_{i}"])))
            for i, code in enumerate(codes)
        ),
    )
    rate = func.round(cast(g.compliant, Numeric) / func.nullif(g.cabins, 0), 4)
    group = func.concat(
        '{"key":',
        _json_value(g.key),
        ',"name":',
        _json_value(names.c.name),
        *(part for name in COUNTS for part in (f',"{name}":', g[name])),
        ',"rate":',
        func.coalesce(cast(rate, Text), literal("null")),
        ',"failures":{',
        failures,
        '},"outcomes":null}',
    )
    groups = func.concat(
        "[",
        func.string_agg(group, aggregate_order_by(literal(","), g.key.nulls_last())),
        "]",
    )
    stmt = (
        select(
            groups.label("groups"),
            *(cast(func.coalesce(func.sum(g[n]), 0), BigInteger).label(n) for n in COUNTS),
            *(
                cast(func.coalesce(func.sum(g[f"rule_{i}"]), 0), BigInteger).label(f"rule_{i}")
                for i in range(len(codes))
            ),
        )
        .select_from(grouped)
        .outerjoin(names, names.c.code == g.key)
    )
    row = session.execute(stmt).mappings().one()
    totals: dict[str, Any] = {n: row[n] for n in COUNTS}
    totals["failures"] = {c: row[f"rule_{i}"] for i, c in enumerate(codes) if row[f"rule_{i}"]}
    return SummaryDocument(row["groups"], totals)


COUNTS = ("cabins", "compliant", "non_compliant", "incomplete", "not_evaluated")


def summary_by_rule(
    session: Session, principal: Principal, filters: Filters
) -> list[dict[str, Any]]:
    return [dict(r) for r in _summary_by_rule(session, principal, filters)]


def _summary_by_rule(
    session: Session, principal: Principal, filters: Filters
) -> Sequence[RowMapping]:
    """Verdicts per rule and outcome over the cabins in scope; the titles of the rule set in
    force are joined once the verdicts are counted."""
    scoped = _scoped_cabins((Cabin.id.label("id"),), principal, filters).subquery("scoped")
    outcome = Verdict.outcome
    counted = (
        select(
            Verdict.rule_code.label("key"),
            func.count().label("cabins"),
            func.count().filter(outcome == "pass").label("compliant"),
            func.count().filter(outcome == "fail").label("non_compliant"),
            func.count().filter(outcome == "unknown").label("incomplete"),
            func.count().filter(outcome == "not_applicable").label("not_applicable"),
        )
        .select_from(Verdict)
        .join(scoped, scoped.c.id == Verdict.cabin_id)
        .group_by(Verdict.rule_code)
        .subquery("counted")
    )
    c = counted.c
    in_force = select(RuleSet.version).where(RuleSet.status == "published").scalar_subquery()
    stmt = (
        select(
            c.key,
            Rule.title.label("name"),
            c.cabins,
            c.compliant,
            c.non_compliant,
            c.incomplete,
            c.not_applicable,
            literal(0).label("not_evaluated"),
            func.json_build_object(c.key, c.non_compliant).label("failures"),
            func.json_build_object(
                "pass",
                c.compliant,
                "fail",
                c.non_compliant,
                "unknown",
                c.incomplete,
                "not_applicable",
                c.not_applicable,
            ).label("outcomes"),
        )
        .select_from(counted)
        .outerjoin(Rule, and_(Rule.code == c.key, Rule.rule_set_version == in_force))
        .order_by(c.key)
    )
    return session.execute(stmt).mappings().all()


# --- the change feed -------------------------------------------------------------------------


class FeedPosition(NamedTuple):
    """A place in the change feed: after the change `id` written by transaction `xid`."""

    xid: int
    id: int


FEED_START = FeedPosition(0, 0)


def _xid8(value: int) -> ColumnElement[str]:
    return cast(literal(str(value), Text), Xid8)


def regional(principal: Principal) -> str | None:
    """The région a caller's feed is limited to: a regional regulator's, else None (the
    others' scope, everything or an operator's own cabins, never changes for a cabin)."""
    return principal.region if principal.role == "regulator" else None


def _after(xid: Any, id_: Any, after: FeedPosition) -> ColumnElement[bool]:
    """Past `after` in the feed's order, and written by a transaction older than every one
    still running (see `changes`)."""
    return and_(
        tuple_(xid, id_) > tuple_(_xid8(after.xid), literal(after.id, BigInteger)),
        xid < func.pg_snapshot_xmin(func.pg_current_snapshot()),
    )


def _region_when_written(region: str) -> tuple[Any, ColumnElement[bool]]:
    """The cabin's first move after a verdict change (a lateral join) and the condition that
    the change was written while the cabin was in `region`: the région that move left, or,
    when the cabin has not moved since, the cabin's région now."""
    moved = CabinRegionChange
    next_move = (
        select(moved.id, moved.old_region)
        .where(
            moved.cabin_id == VerdictChange.cabin_id,
            tuple_(moved.xid, moved.id) > tuple_(VerdictChange.xid, VerdictChange.id),
        )
        .order_by(moved.xid, moved.id)
        .limit(1)
        .lateral("next_move")
    )
    in_region = case(
        (next_move.c.id.is_(None), Cabin.region_code == region),
        else_=next_move.c.old_region == region,
    )
    return next_move, in_region


def region_at(before: datetime) -> ColumnElement[str | None]:
    """The région the cabin (the `cabin` row of the enclosing query) was in just before
    `before` (the end of a day): the one its last move before then entered; with none, the
    one its first move since left; with no move at all, its région now. Moves before the
    table existed (0018) were not recorded: the oldest recorded one still tells where the
    cabin was before it."""
    moved = CabinRegionChange
    # Each région in a one-element array, so that a move into or out of no région (NULL) is
    # still a move found, which coalesce does not pass over as it would a bare NULL.
    last_before = (
        select(array[Any]([moved.new_region], type_=String))
        .where(moved.cabin_id == Cabin.id, moved.changed_at < before)
        .order_by(moved.changed_at.desc(), moved.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    first_since = (
        select(array[Any]([moved.old_region], type_=String))
        .where(moved.cabin_id == Cabin.id, moved.changed_at >= before)
        .order_by(moved.changed_at, moved.id)
        .limit(1)
        .scalar_subquery()
    )
    now = array[Any]([Cabin.region_code], type_=String)
    return func.coalesce(last_before, first_since, now, type_=ARRAY(String))[1]


def _verdicts_before_move() -> Any:
    """The cabin's verdicts as the feed last gave them before its move: per rule, its latest
    change before the move's place in the feed, as a JSON array by rule code."""
    moved = CabinRegionChange
    later = VerdictChange.__table__.alias("later")
    item = func.json_build_object(
        "rule_code",
        VerdictChange.rule_code,
        "outcome",
        VerdictChange.new_outcome,
        "severity",
        VerdictChange.severity,
        "evidence",
        VerdictChange.evidence,
        "rule_set_version",
        VerdictChange.rule_set_version,
        "changed_at",
        VerdictChange.changed_at,
    )
    before_move = tuple_(moved.xid, moved.id)
    superseded = (
        select(literal(1))
        .where(
            later.c.cabin_id == VerdictChange.cabin_id,
            later.c.rule_code == VerdictChange.rule_code,
            tuple_(later.c.xid, later.c.id) > tuple_(VerdictChange.xid, VerdictChange.id),
            tuple_(later.c.xid, later.c.id) < before_move,
        )
        .correlate(VerdictChange, moved)
        .exists()
    )
    return (
        select(
            func.coalesce(
                func.json_agg(aggregate_order_by(item, VerdictChange.rule_code)),
                literal_column("'[]'::json"),
            )
        )
        .where(
            VerdictChange.cabin_id == moved.cabin_id,
            tuple_(VerdictChange.xid, VerdictChange.id) < before_move,
            ~superseded,
        )
        .scalar_subquery()
    )


def changes(
    session: Session, principal: Principal, after: FeedPosition, limit: int
) -> Sequence[RowMapping]:
    """The feed's items after `after` in `(xid, id)` order: the verdict changes of the cabins
    the caller may see and, for a regional regulator, the cabins that left or entered its
    région.

    Only what transactions older than every transaction still running (the snapshot's xmin,
    over the whole cluster) wrote is served: ids are taken in one order and committed in
    another, and a transaction may take its xid long before its ids, but every row that
    commits from now on has an xid at or past that bound, so it sorts after all that is
    served now and a consumer following the cursor never skips one. The price: an item is
    served once every older transaction has ended, so a long transaction anywhere on the
    cluster delays the feed (never its order).

    A regional regulator's feed is the history of its région: a verdict change is in it when
    the cabin was in the région when the change was written (not where the cabin is now), and
    a move out of the région (`cabin_region_change`, in the same order) is a `left_scope`
    item, a move into it an `entered_scope` item carrying the cabin's verdicts as the feed had
    given them before the move (what a copy kept from the feed would hold, had the cabin
    always been in the région)."""
    region = regional(principal)

    def where_now(column: Any, label: str) -> Any:
        # Where the cabin is now, told to a regional regulator only while that is in its
        # région: a cabin that left is placed by its `left_scope` item, not by the commune
        # it is in now, outside the key's scope.
        if region is None:
            return column.label(label)
        return case((Cabin.region_code == region, column)).label(label)

    cabin_columns = (
        Cabin.reference.label("cabin_reference"),
        where_now(Cabin.region_code, "region_code"),
        where_now(Cabin.departement_code, "departement_code"),
        where_now(Cabin.commune_insee, "commune_insee"),
    )
    verdicts = (
        select(
            VerdictChange.id.label("id"),
            VerdictChange.xid.label("position"),
            cast(VerdictChange.xid, Text).label("xid"),
            literal("verdict", Text).label("kind"),
            VerdictChange.cabin_id.label("cabin_id"),
            *cabin_columns,
            VerdictChange.rule_code.label("rule_code"),
            VerdictChange.old_outcome.label("old_outcome"),
            VerdictChange.new_outcome.label("new_outcome"),
            VerdictChange.severity.label("severity"),
            VerdictChange.evidence.label("evidence"),
            VerdictChange.rule_set_version.label("rule_set_version"),
            VerdictChange.changed_at.label("changed_at"),
            cast(null(), String).label("old_region_code"),
            cast(null(), String).label("new_region_code"),
            cast(null(), JSON).label("verdicts"),
        )
        .join(Cabin, Cabin.id == VerdictChange.cabin_id)
        .where(_after(VerdictChange.xid, VerdictChange.id, after))
        .order_by(VerdictChange.xid, VerdictChange.id)
        .limit(limit)
    )
    if region is None:
        stmt = verdicts.where(visible_to(principal))
    else:
        # Each part takes its first `limit` items by the index on (xid, id), then the two
        # are merged: the moves are few, the verdict changes many.
        next_move, in_region = _region_when_written(region)
        moved = CabinRegionChange
        moves = (
            select(
                moved.id,
                moved.xid,
                cast(moved.xid, Text),
                case((moved.old_region == region, "left_scope"), else_="entered_scope"),
                moved.cabin_id,
                *cabin_columns,
                cast(null(), String),
                cast(null(), String),
                cast(null(), String),
                cast(null(), String),
                cast(null(), JSONB),
                cast(null(), String),
                moved.changed_at,
                moved.old_region,
                moved.new_region,
                case((moved.new_region == region, _verdicts_before_move())),
            )
            .join(Cabin, Cabin.id == moved.cabin_id)
            .where(
                _after(moved.xid, moved.id, after),
                or_(moved.old_region == region, moved.new_region == region),
            )
            .order_by(moved.xid, moved.id)
            .limit(limit)
        )
        in_scope = verdicts.outerjoin(next_move, true()).where(in_region)
        items = union_all(in_scope, moves).subquery("items")
        stmt = select(items).order_by(items.c.position, items.c.id).limit(limit)
    return session.execute(stmt).mappings().all()


def change_position(session: Session, change_id: int) -> FeedPosition:
    """Where a change id of the feed before `xid` (a plain integer cursor) points: right after
    that change; with no such change, after the older changes (xid 0) up to that id, before
    every newer one."""
    xid = session.scalar(select(cast(VerdictChange.xid, Text)).where(VerdictChange.id == change_id))
    return FeedPosition(int(xid) if xid is not None else 0, change_id)
