"""CQL2 filters (OGC API Features Part 3): parsed with pygeofilter (cql2-text or cql2-json) and
translated to a SQLAlchemy expression over the queryables whitelist. Values are bound
parameters, never pasted into SQL. Anything outside the supported subset — an unknown property,
an operator we do not translate, a malformed text — is a 400 naming `filter`."""

from __future__ import annotations

import json
import operator
from datetime import date
from typing import Any

import sqlalchemy as sa
from pygeofilter import ast, values
from pygeofilter.parsers.cql2_json import parse as parse_json
from pygeofilter.parsers.cql2_text import parse as parse_text
from sqlalchemy.sql.elements import ColumnElement

from service.cabins.models import Cabin
from service.errors import InvalidParameter
from service.public.properties import QUERYABLES, Property

GEOMETRY = "geometry"
FILTER_LANGS = ("cql2-text", "cql2-json")


class FilterError(Exception):
    pass


def invalid(reason: str, field: str = "filter") -> InvalidParameter:
    return InvalidParameter(
        f"The filter is not usable: {reason}", errors=[{"field": field, "reason": reason}]
    )


def parse_filter(text: str, lang: str | None, filter_crs_srid: int = 4326) -> ColumnElement[bool]:
    """The WHERE clause for a `filter` parameter in the given `filter-lang`."""
    lang = lang or "cql2-text"
    if lang not in FILTER_LANGS:
        raise invalid(f"filter-lang must be one of {', '.join(FILTER_LANGS)}", "filter-lang")
    try:
        node = parse_text(text) if lang == "cql2-text" else parse_json(json.loads(text))
    except Exception as exc:  # the parsers raise lark, JSON and ad-hoc errors alike
        raise invalid(f"malformed {lang}: {str(exc).splitlines()[0][:200]}") from exc
    try:
        return Translator(filter_crs_srid).condition(node)
    except FilterError as exc:
        raise invalid(str(exc)) from exc


class Translator:
    """AST → SQLAlchemy. One method per family of nodes; everything else is refused."""

    def __init__(self, srid: int) -> None:
        self.srid = srid

    def condition(self, node: Any) -> ColumnElement[bool]:
        if isinstance(node, ast.And):
            return sa.and_(self.condition(node.lhs), self.condition(node.rhs))
        if isinstance(node, ast.Or):
            return sa.or_(self.condition(node.lhs), self.condition(node.rhs))
        if isinstance(node, ast.Not):
            return sa.not_(self.condition(node.sub_node))
        if isinstance(node, ast.Include):
            return sa.false() if node.not_ else sa.true()
        if isinstance(node, bool):
            return sa.true() if node else sa.false()
        if isinstance(node, ast.Comparison):
            return self.comparison(node)
        if isinstance(node, ast.Between):
            prop = self.attribute(node.lhs)
            low, high = self.value(node.low, prop), self.value(node.high, prop)
            expr = prop.expr().between(low, high)
            return sa.not_(expr) if node.not_ else expr
        if isinstance(node, ast.Like):
            return self.like(node)
        if isinstance(node, ast.In):
            prop = self.attribute(node.lhs)
            expr = prop.expr().in_([self.value(v, prop) for v in node.sub_nodes])
            return sa.not_(expr) if node.not_ else expr
        if isinstance(node, ast.IsNull):
            target = self.attribute(node.lhs).expr()
            return target.is_not(None) if node.not_ else target.is_(None)
        if isinstance(node, ast.SpatialComparisonPredicate):
            return self.spatial(node)
        if isinstance(node, ast.BBox):
            self.geometry_attribute(node.lhs)
            return Cabin.geom.intersects(self.envelope(node.minx, node.miny, node.maxx, node.maxy))
        if isinstance(node, ast.TemporalPredicate):
            return self.temporal(node)
        raise FilterError(f"unsupported operation {type(node).__name__}")

    def comparison(self, node: ast.Comparison) -> ColumnElement[bool]:
        prop = self.attribute(node.lhs)
        lhs, rhs = prop.expr(), self.value(node.rhs, prop)
        if prop.schema.get("type") == "boolean" and node.op not in (
            ast.ComparisonOp.EQ,
            ast.ComparisonOp.NE,
        ):
            raise FilterError(f"'{prop.name}' is a boolean: only = and <> apply")
        bound = sa.literal(rhs) if isinstance(rhs, bool) else rhs
        ops = {
            ast.ComparisonOp.EQ: operator.eq,
            ast.ComparisonOp.NE: operator.ne,
            ast.ComparisonOp.LT: operator.lt,
            ast.ComparisonOp.LE: operator.le,
            ast.ComparisonOp.GT: operator.gt,
            ast.ComparisonOp.GE: operator.ge,
        }
        return ops[node.op](lhs, bound)  # type: ignore[no-any-return]

    def like(self, node: ast.Like) -> ColumnElement[bool]:
        prop = self.attribute(node.lhs)
        if prop.schema.get("type") != "string" or prop.schema.get("format"):
            raise FilterError(f"LIKE applies to text properties, not '{prop.name}'")
        target = prop.expr()
        if not isinstance(node.pattern, str):
            raise FilterError("LIKE takes a string pattern")
        # CQL2 wildcards are % and _ like SQL's; the escape character is a backslash.
        expr = target.ilike(node.pattern) if node.nocase else target.like(node.pattern)
        return sa.not_(expr) if node.not_ else expr

    def temporal(self, node: ast.TemporalPredicate) -> ColumnElement[bool]:
        prop = self.attribute(node.lhs)
        if prop.schema.get("format") != "date-time":
            raise FilterError(
                f"temporal operators apply to date-time properties, not '{prop.name}'"
            )
        target = prop.expr()
        start, end = self.interval(node.rhs)
        op = node.op
        T = ast.TemporalComparisonOp
        if op in (T.AFTER,):
            return target > end
        if op in (T.BEFORE,):
            return target < start
        if op in (T.TEQUALS,) and start == end:
            return target == start
        if op in (T.DURING, T.TCONTAINS, T.TOVERLAPS, T.TEQUALS) or op.name == "TINTERSECTS":
            return sa.and_(target >= start, target <= end)
        if op == T.DISJOINT:
            return sa.or_(target < start, target > end)
        raise FilterError(f"unsupported temporal operator {op.value}")

    def interval(self, value: Any) -> tuple[Any, Any]:
        if isinstance(value, values.Interval):
            start, end = value.start, value.end
            if not isinstance(start, date) or not isinstance(end, date):
                raise FilterError("intervals need both ends as dates or timestamps")
            return start, end
        if isinstance(value, date):
            return value, value
        raise FilterError("temporal operators take a date, a timestamp or an interval")

    def spatial(self, node: ast.SpatialComparisonPredicate) -> ColumnElement[bool]:
        self.geometry_attribute(node.lhs)
        other = self.geometry_value(node.rhs)
        functions = {
            ast.SpatialComparisonOp.INTERSECTS: sa.func.ST_Intersects,
            ast.SpatialComparisonOp.DISJOINT: sa.func.ST_Disjoint,
            ast.SpatialComparisonOp.CONTAINS: sa.func.ST_Contains,
            ast.SpatialComparisonOp.WITHIN: sa.func.ST_Within,
            ast.SpatialComparisonOp.TOUCHES: sa.func.ST_Touches,
            ast.SpatialComparisonOp.CROSSES: sa.func.ST_Crosses,
            ast.SpatialComparisonOp.OVERLAPS: sa.func.ST_Overlaps,
            ast.SpatialComparisonOp.EQUALS: sa.func.ST_Equals,
        }
        return functions[node.op](Cabin.geom, other)

    def geometry_attribute(self, node: Any) -> None:
        if not (isinstance(node, ast.Attribute) and node.name == GEOMETRY):
            raise FilterError(f"spatial operators apply to the '{GEOMETRY}' property")

    def geometry_value(self, node: Any) -> ColumnElement[Any]:
        if isinstance(node, ast.Function) and node.name.lower() == "bbox":
            args = node.arguments
            if len(args) == 4 and all(isinstance(a, int | float) for a in args):
                return self.envelope(*args)
            raise FilterError("BBOX takes four numbers")
        if isinstance(node, values.Envelope):
            return self.envelope(node.x1, node.y1, node.x2, node.y2)
        if isinstance(node, values.Geometry):
            geojson = json.dumps(node.geometry)
            geom = sa.func.ST_SetSRID(sa.func.ST_GeomFromGeoJSON(geojson), self.srid)
            return geom if self.srid == 4326 else sa.func.ST_Transform(geom, 4326)
        raise FilterError("a spatial operator needs a geometry literal")

    def envelope(self, minx: float, miny: float, maxx: float, maxy: float) -> ColumnElement[Any]:
        box = sa.func.ST_MakeEnvelope(minx, miny, maxx, maxy, self.srid)
        return box if self.srid == 4326 else sa.func.ST_Transform(box, 4326)

    def attribute(self, node: Any) -> Property:
        if isinstance(node, ast.Attribute):
            prop = QUERYABLES.get(node.name)
            if prop is None:
                raise FilterError(f"unknown property '{node.name}' (see /queryables)")
            return prop
        raise FilterError("the left side of a comparison must be a queryable property")

    def value(self, node: Any, prop: Property) -> Any:
        """A literal checked against the property's type, so SQL never compares apples and
        oranges (which would be a database error, not a 400)."""
        kind = prop.schema.get("type")
        if prop.schema.get("format") == "date-time":
            if isinstance(node, date):
                return node
        elif kind == "boolean":
            if isinstance(node, bool):
                return node
        elif kind == "number":
            if isinstance(node, int | float) and not isinstance(node, bool):
                return node
        elif kind == "string" and isinstance(node, str):
            return node
        kind_name = "date-time" if prop.schema.get("format") else kind
        raise FilterError(f"'{prop.name}' is compared with a {kind_name}, not {node!r}")
