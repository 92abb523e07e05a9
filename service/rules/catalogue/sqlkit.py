"""SQL building blocks of the rule catalogue: tri-state reads of the JSONB blocks, JSONB
evidence and the list of what is missing to decide, outcome CASEs, index-friendly distances on
geography, and current-layer lookups that carry the layer's vintage and synthetic flag into the
evidence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Date,
    Float,
    Integer,
    Numeric,
    String,
    Text,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import array as pg_array

from service.rules.catalogue.base import FAIL, NOT_APPLICABLE, PASS, UNKNOWN
from service.territories.models import Layer, MedicalZone
from service.territories.queries import answering_layers

# Metres per degree, on the small side, so that a box built from them always holds the circle.
_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON_EQUATOR = 111_320.0
_BOX_MARGIN = 1.02


# --- reading the JSONB blocks (missing key, JSON null and SQL NULL all mean "unknown") -------


def txt(block: Any, *path: str) -> ColumnElement[str]:
    """The text at `path` in a JSONB block; NULL when absent or JSON null. (SIT-07's extended
    statistics, migration 0013, are on this very expression for `siting`'s `staff_hours`.)"""
    return func.jsonb_extract_path_text(block, *path, type_=Text)


def tri(block: Any, *path: str) -> ColumnElement[bool]:
    """A tri-state fact: true, false, or NULL when absent or null (unknown is never false)."""
    return cast(txt(block, *path), Boolean)


def jdate(block: Any, *path: str) -> ColumnElement[Any]:
    return cast(txt(block, *path), Date)


def num(block: Any, key: str) -> ColumnElement[Any]:
    """A number of a block, as `numeric` (JSON's own number type: cheap into the evidence)."""
    return cast(txt(block, key), Numeric)


def has(block: Any, key: str) -> ColumnElement[bool]:
    """The key is present with a non-null value."""
    return func.coalesce(func.jsonb_typeof(block.op("->")(key)), "null") != "null"


def jlist(block: Any, key: str) -> ColumnElement[Any]:
    """The JSON array under `key`, `[]` when absent (lists of the record default to empty)."""
    value = block.op("->")(key)
    return case((func.jsonb_typeof(value) == "array", value), else_=cast(literal("[]"), JSONB))


def jconst(value: Any) -> ColumnElement[Any]:
    """A constant JSON value (a parameter list shown in the evidence)."""
    return cast(literal(value, JSONB), JSONB)


# --- evidence ---------------------------------------------------------------------------------


def jobj(**pairs: Any) -> ColumnElement[Any]:
    """`jsonb_build_object(k1, v1, …)`; plain Python values become bound parameters."""
    args: list[Any] = []
    for key, value in pairs.items():
        args.append(literal(key, String))
        args.append(_jvalue(value))
    return func.jsonb_build_object(*args, type_=JSONB)


def strip(value: ColumnElement[Any]) -> ColumnElement[Any]:
    """Drop the null members of an evidence object (unmeasured values stay out of it), at
    every depth: `jsonb_strip_nulls` is recursive, so one strip around a rule's whole evidence
    does it, and nested parts built per cabin are left unstripped (each strip copies)."""
    return func.jsonb_strip_nulls(value, type_=JSONB)


def _jvalue(value: Any) -> Any:
    if isinstance(value, ColumnElement):
        return value
    if isinstance(value, (list, tuple, dict)):
        return jconst(list(value) if isinstance(value, tuple) else value)
    if isinstance(value, bool):
        return literal(value, Boolean)
    if isinstance(value, int):
        return literal(value, Integer)
    if isinstance(value, float):
        return literal(value, Numeric)
    if value is None:
        return cast(null(), JSONB)
    return literal(value, String)


def layer_evidence(layer: Any) -> ColumnElement[Any]:
    """The layer row a verdict relied on: id, kind, scope, vintage, synthetic, source, reference."""
    return strip(
        jobj(
            layer_id=layer.c.id,
            kind=layer.c.kind,
            scope=layer.c.scope,
            vintage=layer.c.vintage,
            synthetic=layer.c.synthetic,
            source=layer.c.source,
            reference=layer.c.reference,
            reference_date=layer.c.reference_date,
        )
    )


def missing(*items: tuple[ColumnElement[bool], str]) -> ColumnElement[Any]:
    """A JSON array of the names whose condition holds: what is missing to decide."""
    parts = [case((cond, literal(name, String)), else_=null()) for cond, name in items]
    return func.to_jsonb(func.array_remove(pg_array(parts), null()), type_=JSONB)


def unset(*fields: tuple[str, ColumnElement[Any]]) -> ColumnElement[Any]:
    """`missing` for fields named as the API spells them: those whose value is NULL."""
    return missing(*((value.is_(None), name) for name, value in fields))


# --- outcomes ---------------------------------------------------------------------------------


Check = tuple[ColumnElement[bool], str, str]
"""(condition, outcome, reason): the first condition that holds decides."""


def decide(
    checks: list[Check], otherwise: tuple[str, str]
) -> tuple[ColumnElement[str], ColumnElement[str]]:
    """The outcome and the reason of the first check that holds, else `otherwise`."""
    outcome = case(
        *((condition, literal(result, Text)) for condition, result, _ in checks),
        else_=literal(otherwise[0], Text),
    )
    reason = case(
        *((condition, literal(why, Text)) for condition, _, why in checks),
        else_=literal(otherwise[1], Text),
    )
    return outcome, reason


def outcome(*whens: tuple[Any, str], else_: str = PASS) -> ColumnElement[str]:
    """First matching condition wins (a NULL condition does not match)."""
    return case(*((cond, literal(value, String)) for cond, value in whens), else_=literal(else_))


def combine(*outcomes: Any) -> ColumnElement[str]:
    """Any fail → fail; else any unknown → unknown; else any pass → pass; else not_applicable.
    Give it columns of an inner select, not big expressions (each one is repeated)."""
    return case(
        (or_(*(o == FAIL for o in outcomes)), literal(FAIL)),
        (or_(*(o == UNKNOWN for o in outcomes)), literal(UNKNOWN)),
        (or_(*(o == PASS for o in outcomes)), literal(PASS)),
        else_=literal(NOT_APPLICABLE),
    )


# --- geography --------------------------------------------------------------------------------


def geog(geom: Any) -> ColumnElement[Any]:
    return func.geography(geom)


def within_m(centre: Any, other: Any, metres: float) -> ColumnElement[bool]:
    """`other` lies within `metres` of `centre`, measured on the spheroid (right overseas too).

    A degree box around `centre` comes first so that the GiST index on `other.geom` (geometry,
    EPSG:4326) is used; the box holds the circle at any latitude France has (±51°)."""
    lat = func.radians(func.ST_Y(centre))
    dy = metres * _BOX_MARGIN / _M_PER_DEG_LAT
    dx = literal(metres * _BOX_MARGIN / _M_PER_DEG_LON_EQUATOR, Float) / func.cos(lat, type_=Float)
    return and_(
        other.op("&&")(func.ST_Expand(centre, dx, literal(dy, Float))),
        func.ST_DWithin(geog(centre), geog(other), literal(metres, Float)),
    )


def distance_m(a: Any, b: Any) -> ColumnElement[Any]:
    """Distance in metres on the spheroid, rounded to 0.1 m."""
    return func.round(cast(func.ST_Distance(geog(a), geog(b)), Numeric), 1)


# --- current layers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CommuneZoning:
    """The zoning of each cabin's commune: `joined` is the cabins outer-joined to it; `zone`,
    `apl` and `evidence` are NULL when the commune has no row (→ unknown, never pass); `layer`
    is the evidence of the zoning layer in force for the région (NULL when none is)."""

    joined: Any
    zone: ColumnElement[Any]
    apl: ColumnElement[Any]
    evidence: ColumnElement[Any]
    layer: ColumnElement[Any]


def medical_zone_of(cabins: Any, insee: Any, region: Any, name: str = "mz") -> CommuneZoning:
    """The commune's row in the one `medical_zone` layer that answers for its région
    (`answering_layers`: the région's official zoning once imported, else the national one),
    by plain outer joins: the answering layers, with their evidence built once per région, are
    hashed; the zoning rows are then probed by (layer_id, insee) for a few cabins or hashed for
    many. A commune the région's official file leaves out gets no row, whatever the national
    layer says. The evidence keeps its null members: the rule's evidence is stripped whole."""
    answering = answering_layers("medical_zone", f"{name}_answering")
    layer = Layer.__table__.alias(f"{name}_layer")
    layers = fenced(
        select(
            answering.c.region,
            answering.c.layer_id,
            layer.c.reference,
            layer.c.reference_date,
            layer_evidence(layer).label("evidence"),
        ).join_from(answering, layer, layer.c.id == answering.c.layer_id),
        f"{name}_layers",
    )
    zone = MedicalZone.__table__.alias(name)
    joined = cabins.outerjoin(layers, layers.c.region == region).outerjoin(
        zone, and_(zone.c.layer_id == layers.c.layer_id, zone.c.insee == insee)
    )
    evidence = case(
        (zone.c.id.is_(None), null()),
        else_=jobj(
            insee=zone.c.insee,
            zone=zone.c.zone,
            apl=zone.c.apl,
            arrete_ref=func.coalesce(zone.c.arrete_ref, layers.c.reference),
            arrete_date=func.coalesce(zone.c.arrete_date, layers.c.reference_date),
            layer=layers.c.evidence,
        ),
    )
    return CommuneZoning(joined, zone.c.zone, zone.c.apl, evidence, layers.c.evidence)


def best_current_layer_id(kind: str) -> Any:
    """Scalar (computed once): the current layer of a national kind (commune, health_site),
    a real one before a synthetic one. Joining on it keeps one row per key, and lets the planner
    hash the layer for many cabins or probe its index for a few."""
    layer = Layer.__table__
    return (
        select(layer.c.id)
        .where(layer.c.kind == kind, layer.c.is_current)
        .order_by(layer.c.synthetic, layer.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def fenced(query: Any, name: str) -> Any:
    """The query as a subquery that PostgreSQL evaluates once per row (OFFSET 0 stops it being
    pulled up). Without it, every reference to one of its columns in the outer CASEs and the
    evidence would re-evaluate the underlying expression — the JSONB reads, the CASEs."""
    return query.offset(0).subquery(name)
