"""CQL2 filters (OGC API Features Part 3): parsed with pygeofilter (cql2-text or cql2-json) and
translated to a SQLAlchemy expression over the queryables whitelist. Values are bound
parameters, never pasted into SQL. Anything outside the supported subset — an unknown property,
an operator we do not translate, a malformed text — is a 400 naming `filter`."""

from __future__ import annotations

import json
import math
import operator
import os
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import lark
import sqlalchemy as sa
from pygeofilter import ast, values
from pygeofilter.parsers.cql2_json import parse as parse_json
from pygeofilter.parsers.cql2_text import parser as text_parser
from sqlalchemy.sql.elements import ColumnElement

from service.cabins.models import Cabin
from service.errors import InvalidParameter
from service.public.params import box_problem, is_latitude, is_longitude, is_projected
from service.public.properties import QUERYABLES, Property
from service.timespans import Span, SpanError, between, rfc3339_date, rfc3339_date_time

GEOMETRY = "geometry"
FILTER_LANGS = ("cql2-text", "cql2-json")


class FilterError(Exception):
    pass


@lark.v_args(inline=True)
class _TextTransformer(text_parser.CQLTransformer):  # type: ignore[misc]
    def SINGLE_QUOTED(self, token: str) -> str:  # the grammar's terminal name
        return token[1:-1].replace("''", "'").replace("\\'", "'")

    # pygeofilter reads a TIMESTAMP with dateparser, which takes '2026-13-01T00:00:00Z' for
    # 13 January, and its grammar took only what looks like a date ('2026-W48' was "unexpected
    # '2026'"). A literal is any quoted text, read as RFC 3339 says or refused in its words.
    def timestamp_literal(self, quoted: str) -> datetime:
        return read_timestamp(quoted)

    def date_literal(self, quoted: str) -> date:
        return read_date(quoted)

    def DATE(self, keyword: str) -> str:  # the keyword of DATE('…'), not the base's date
        return keyword

    def temporal_function(self, op: Any, lhs: Any, rhs: Any) -> Any:
        return self.binary_temporal_predicate(lhs, op, rhs)

    def interval_end(self, end: Any) -> date | None:
        return interval_end(end) if isinstance(end, str) else end

    def interval(self, start: Any, end: Any) -> values.Interval:
        return values.Interval(start, end)


def read_timestamp(text: Any) -> datetime:
    """A CQL2 TIMESTAMP: an RFC 3339 date-time with its offset, read by `service.timespans`
    (never a week, an ordinal date or a compact form, which Python's ISO reading takes)."""
    try:
        return rfc3339_date_time(text)
    except SpanError as error:
        raise FilterError(str(error)) from None


def read_date(text: Any) -> date:
    """A CQL2 DATE: a calendar date, YYYY-MM-DD, read by `service.timespans`."""
    try:
        return rfc3339_date(text)
    except SpanError as error:
        raise FilterError(str(error)) from None


# a date-time's date followed by its time (an interval's end is a timestamp, not a date)
_CLOCK_IN = re.compile(r"[0-9][Tt ][0-9]")


# CQL2's own text for the temporal operators, besides pygeofilter's `updated_at T_AFTER …`:
# `T_AFTER(updated_at, TIMESTAMP('…'))`, and an INTERVAL's ends as CQL2 writes them (a date or
# a timestamp, quoted or not, or '..' for an open end), as cql2-json takes them.
_CQL2_TEMPORAL = {
    "?temporal_predicate: expression _binary_temporal_predicate_func expression"
    " -> binary_temporal_predicate": "?temporal_predicate: expression"
    " _binary_temporal_predicate_func expression -> binary_temporal_predicate\n"
    '    | _binary_temporal_predicate_func "(" expression "," expression ")"'
    " -> temporal_function",
    '?interval: "INTERVAL" "("  "\'" DATETIME "\'" "," "\'" DATETIME "\'" ")"': (
        '?interval: "INTERVAL"i "(" interval_end "," interval_end ")" -> interval\n'
        "interval_end: timestamp | date | SINGLE_QUOTED"
    ),
    '?timestamp: "TIMESTAMP" "(" "\'" DATETIME "\'" ")"': (
        '?timestamp: "TIMESTAMP" "(" SINGLE_QUOTED ")" -> timestamp_literal'
    ),
    '?date: "DATE" "(" "\'" DATE "\'" ")"': '?date: "DATE" "(" SINGLE_QUOTED ")" -> date_literal',
    # the terminals those rules no longer read (lark then names the keyword "DATE" so)
    "DATE: /[0-9]{4}-?[0-1][0-9]-?[0-3][0-9]/\n": "",
    "DATETIME: /[0-9]{4}-?[0-1][0-9]-?[0-3][0-9][T ][0-2][0-9]:?[0-5][0-9]:?[0-5][0-9]"
    "(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})?/\n": "",
}


def _text_parser() -> lark.Lark:
    """pygeofilter's cql2-text grammar, but a quote inside a string is written as CQL2 says,
    doubled or backslashed ('rue de l''Église'): its grammar ends a string at the first quote,
    so a French street or venue name could not be searched."""
    source = Path(text_parser.__file__).with_name("grammar.lark")
    grammar = source.read_text(encoding="utf-8")
    terminal = 'SINGLE_QUOTED: "\'" /.*?/ "\'"'
    if terminal not in grammar:  # a pygeofilter upgrade changed it: say so at start-up
        raise RuntimeError("pygeofilter's cql2-text grammar changed: review service/public/cql2.py")
    grammar = grammar.replace(terminal, "SINGLE_QUOTED: /'(?:[^'\\\\]|''|\\\\.)*'/")
    for rule, standard in _CQL2_TEMPORAL.items():
        if rule not in grammar:
            raise RuntimeError(
                "pygeofilter's cql2-text grammar changed: review service/public/cql2.py"
            )
        grammar = grammar.replace(rule, standard)
    return lark.Lark(
        grammar,
        parser="lalr",
        maybe_placeholders=False,
        transformer=_TextTransformer(),
        import_paths=[os.path.dirname(os.path.dirname(text_parser.__file__))],
        source_path=str(source),
    )


TEXT_PARSER = _text_parser()


def parse_text(text: str) -> Any:
    return TEXT_PARSER.parse(text)


def _text_error(exc: Exception) -> str:
    """A parse error in words and a column, not the parser's token names."""
    column = getattr(exc, "column", None)
    where = f" at column {column}" if isinstance(column, int) and column > 0 else ""
    if isinstance(exc, lark.UnexpectedEOF) or (
        isinstance(exc, lark.UnexpectedToken) and exc.token.type == "$END"
    ):
        return "the filter ends before the expression is complete"
    if isinstance(exc, lark.UnexpectedToken):
        return f"unexpected {str(exc.token)!r}{where}"
    if isinstance(exc, lark.exceptions.VisitError) or not isinstance(exc, lark.LarkError):
        # pygeofilter building its tree failed with a Python error: no words for a client
        return "an expression this service does not evaluate: compare a queryable with a value"
    if isinstance(exc, lark.UnexpectedCharacters):
        return f"unexpected {exc.char!r}{where} (a string is quoted with ', a quote in it doubled)"
    return str(exc).splitlines()[0][:200]


# cql2-json operators and how many arguments each takes (min, max); pygeofilter's own message
# for a wrong count is a Python TypeError naming its classes.
_ARITY = {
    **{op: (2, 2) for op in ("=", "<>", "<", "<=", ">", ">=", "like", "in")},
    **{f"s_{op}": (2, 2) for op in ("intersects", "disjoint", "contains", "within", "touches")},
    **{f"s_{op}": (2, 2) for op in ("crosses", "overlaps", "equals")},
    "between": (3, 3),
    "not": (1, 1),
    "isnull": (1, 1),
    "and": (2, None),
    "or": (2, None),
}


def _read_json(node: Any) -> Any:
    """The document checked, with its temporal literals read (pygeofilter's own messages for a
    wrong shape are Python's: `'arguments'`, `unhashable type: 'list'`, `Invalid type
    <class 'NoneType'>`; and it reads a timestamp with dateparser, which takes 'yesterday' and
    '2026-13-01T00:00:00Z', 13 January)."""
    if node is None:
        raise FilterError("null is not a CQL2 value: test a property with isNull")
    if isinstance(node, float) and not math.isfinite(node):
        raise FilterError("a number must be finite")
    if isinstance(node, list):
        return [_read_json(item) for item in node]
    if not isinstance(node, dict):
        return node
    if "timestamp" in node:
        return read_timestamp(node["timestamp"])
    if "date" in node:
        return read_date(node["date"])
    if "interval" in node:
        return _read_interval(node["interval"])
    if "function" in node:
        raise FilterError("functions are not evaluated here: compare a queryable with a value")
    if "property" in node:
        if not isinstance(node["property"], str):
            raise FilterError("a property is named by a string, as the queryables spell it")
        return node
    if "type" in node:  # a GeoJSON geometry, checked where it is translated
        if node["type"] == "GeometryCollection" or "coordinates" not in node:
            raise FilterError(
                "a geometry literal is a GeoJSON Point, LineString, Polygon or one of their Multi"
                " forms with its coordinates (a GeometryCollection is not taken: one predicate"
                " per geometry, joined with or)"
            )
        return node
    if "bbox" in node:
        box = node["bbox"]
        if not (isinstance(box, list) and len(box) in (4, 6)):
            raise FilterError("a bbox is a list of 4 numbers: minx, miny, maxx, maxy")
        if len(box) == 6:  # heights mean nothing for points on the ground
            box = [box[0], box[1], box[3], box[4]]
        return {**node, "bbox": _read_json(box)}
    if "op" in node:
        op, args = node["op"], node.get("args")
        if not isinstance(op, str):
            raise FilterError('an "op" is the name of an operator, such as "=" or "s_intersects"')
        if not isinstance(args, list):
            raise FilterError(f"the operator {op!r} needs its 'args' as a list")
        arity = _ARITY.get(op.lower())
        if arity is not None:
            low, high = arity
            if len(args) < low or (high is not None and len(args) > high):
                count = str(low) if low == high else f"at least {low}"
                raise FilterError(f"the operator {op!r} takes {count} arguments, not {len(args)}")
        if op.lower() == "in" and not isinstance(args[1], list):
            raise FilterError("the operator 'in' takes a property and a list of values")
        if op.lower() == "between":  # CQL2: [property, low, high]; pygeofilter's form
            args = [args[0], [args[1], args[2]]]
        return {**node, "args": _read_json(args)}
    raise FilterError(
        'an object of a cql2-json filter is an operation {"op", "args"}, a {"property"},'
        ' a GeoJSON geometry, or a {"bbox"}, {"date"}, {"timestamp"} or {"interval"}'
    )


def _read_interval(ends: Any) -> values.Interval:
    """[start, end], each a date, a timestamp or '..' (open)."""
    if not (isinstance(ends, list) and len(ends) == 2):
        raise FilterError("an interval is a list of 2 ends: dates, timestamps or '..' (open)")
    read: list[date | None] = []
    for end in ends:
        if not isinstance(end, str):
            raise FilterError(f"an interval's end is a date, a timestamp or '..', not {end!r}")
        read.append(interval_end(end))
    return values.Interval(*read)


def interval_end(end: str) -> date | None:
    """An interval's end as text: '..' (open), a timestamp, or a date."""
    if end == "..":
        return None
    return read_timestamp(end) if _CLOCK_IN.search(end) else read_date(end)


def _no_constant(name: str) -> Any:
    raise FilterError(f"{name} is not a number in JSON: a number must be finite")


def _parse_json(text: str) -> Any:
    try:
        document = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise FilterError("the filter nests too deeply") from None
    except FilterError:
        raise
    except ValueError as exc:
        raise FilterError(f"malformed cql2-json: {exc}") from None
    if not isinstance(document, dict | bool):
        raise FilterError('a cql2-json filter is a JSON object such as {"op": "=", "args": [...]}')
    document = _read_json(document)
    try:
        return parse_json(document)
    except RecursionError:
        raise FilterError("the filter nests too deeply") from None
    except Exception as exc:  # pygeofilter raises ad-hoc errors
        raise FilterError(f"malformed cql2-json: {str(exc).splitlines()[0][:200]}") from None


def invalid_geometry(reason: str) -> InvalidParameter:
    """A geometry literal the database finds invalid, with its reason (`Self-intersection[2.5
    49]`, in the filter's CRS)."""
    return invalid(f"a geometry literal is not a valid geometry: {reason}")


def invalid(reason: str, field: str = "filter") -> InvalidParameter:
    return InvalidParameter(
        f"The filter is not usable: {reason}", errors=[{"field": field, "reason": reason}]
    )


@dataclass(frozen=True)
class Filter:
    """A filter's WHERE clause, and its geometry literals (GeoJSON, in the filter's CRS): the
    caller has the database say whether they are valid geometries before the clause runs,
    since GEOS fails on some invalid ones (two overlapping parts of a MultiPolygon under
    S_TOUCHES: a TopologyException, a 500)."""

    where: ColumnElement[bool]
    geometries: tuple[str, ...]


def parse_filter(text: str, lang: str | None, filter_crs_srid: int = 4326) -> Filter:
    """The WHERE clause for a `filter` parameter in the given `filter-lang`."""
    lang = lang or "cql2-text"
    if lang not in FILTER_LANGS:
        raise invalid(f"filter-lang must be one of {', '.join(FILTER_LANGS)}", "filter-lang")
    try:
        if lang == "cql2-text":
            try:
                node = parse_text(text)
            except Exception as exc:  # lark errors, and the transformer's own
                ours = getattr(exc, "orig_exc", exc)  # a literal refused in our words
                if isinstance(ours, FilterError):
                    raise ours from None
                raise FilterError(f"malformed cql2-text: {_text_error(exc)}") from None
        else:
            node = _parse_json(text)
        translator = Translator(filter_crs_srid, bbox_in_order=lang == "cql2-json")
        where = translator.condition(node)
        return Filter(where, tuple(translator.geometries))
    except FilterError as exc:
        raise invalid(str(exc)) from exc
    except RecursionError:
        raise invalid("the filter nests too deeply") from None


BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1


def bound_integer(number: int) -> ColumnElement[Any]:
    """An integer literal bound as a bigint, so an integer column is compared as integers (its
    index usable, where a numeric literal made PostgreSQL compare it as numeric) and a
    numeric one as numbers; past a bigint, as a numeric (PostgreSQL refused it as a bigint, a
    500)."""
    if BIGINT_MIN <= number <= BIGINT_MAX:
        return sa.literal(number, sa.BigInteger)
    return sa.literal(Decimal(number), sa.Numeric)


class Translator:
    """AST → SQLAlchemy. One method per family of nodes; everything else is refused."""

    def __init__(self, srid: int, bbox_in_order: bool = False) -> None:
        self.srid = srid
        # pygeofilter's cql2-json parser builds Envelope(*bbox): its fields x1, x2, y1, y2
        # then hold minx, miny, maxx, maxy, in the bbox's order, not their names'.
        self.bbox_in_order = bbox_in_order
        self.geometries: list[str] = []  # the GeoJSON of each geometry literal

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
            if isinstance(low, date):  # from low's first instant to high's last
                expr = self.interval(values.Interval(low, high)).holds(prop.expr())
            else:
                expr = prop.expr().between(low, high)
            return sa.not_(expr) if node.not_ else expr
        if isinstance(node, ast.Like):
            return self.like(node)
        if isinstance(node, ast.In):
            prop = self.attribute(node.lhs)
            listed = [self.value(v, prop) for v in node.sub_nodes]
            if listed and isinstance(listed[0], date):
                expr = sa.or_(*(Span.of(v).holds(prop.expr()) for v in listed))
            else:
                expr = prop.expr().in_(listed)
            return sa.not_(expr) if node.not_ else expr
        if isinstance(node, ast.IsNull):
            target = self.attribute(node.lhs).expr()
            return target.is_not(None) if node.not_ else target.is_(None)
        if isinstance(node, ast.SpatialComparisonPredicate):
            return self.spatial(node)
        if isinstance(node, ast.BBox):
            self.geometry_attribute(node.lhs)
            box = self.envelope(node.minx, node.miny, node.maxx, node.maxy)
            return sa.func.ST_Intersects(Cabin.geom, box)  # type: ignore[no-any-return]
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
        if isinstance(rhs, date):
            return self.compared_in_time(lhs, node.op, Span.of(rhs))
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

    @staticmethod
    def compared_in_time(target: Any, op: ast.ComparisonOp, span: Span) -> ColumnElement[bool]:
        """A date-time property against a date or timestamp literal: `= DATE('2026-11-23')`
        is any instant of that day (UTC), `< DATE(…)` before it, `> DATE(…)` after it, as the
        `datetime` parameter reads a date (`service.timespans`)."""
        return {  # type: ignore[no-any-return]
            ast.ComparisonOp.EQ: span.holds(target),
            ast.ComparisonOp.NE: sa.not_(span.holds(target)),
            ast.ComparisonOp.LT: span.is_before(target),
            ast.ComparisonOp.GE: sa.not_(span.is_before(target)),
            ast.ComparisonOp.GT: span.is_after(target),
            ast.ComparisonOp.LE: sa.not_(span.is_after(target)),
        }[op]

    def like(self, node: ast.Like) -> ColumnElement[bool]:
        prop = self.attribute(node.lhs)
        if prop.schema.get("type") != "string" or prop.schema.get("format"):
            raise FilterError(f"LIKE applies to text properties, not '{prop.name}'")
        target = prop.expr()
        if not isinstance(node.pattern, str):
            raise FilterError("LIKE takes a string pattern")
        if "\x00" in node.pattern:
            raise FilterError("a string must not contain a NUL character")
        trailing = len(node.pattern) - len(node.pattern.rstrip("\\"))
        if trailing % 2:  # PostgreSQL refuses it when it reaches it: a 500
            raise FilterError(
                "a LIKE pattern must not end with the escape character \\ (it escapes the next"
                " character: \\% a percent sign, \\\\ a backslash)"
            )
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
        span = self.interval(node.rhs)
        op = node.op
        T = ast.TemporalComparisonOp
        if op in (T.AFTER,):
            return span.is_after(target)
        if op in (T.BEFORE,):
            return span.is_before(target)
        if op in (T.DURING, T.TCONTAINS, T.TOVERLAPS, T.TEQUALS) or op.name == "TINTERSECTS":
            return span.holds(target)
        if op == T.DISJOINT:
            return sa.not_(span.holds(target))
        raise FilterError(f"unsupported temporal operator {op.value}")

    def interval(self, value: Any) -> Span:
        if isinstance(value, values.Interval):
            start, end = value.start, value.end
            ends = [v for v in (start, end) if v is not None]
            if not ends or not all(isinstance(v, date) for v in ends):
                # a '..' end is open, as the `datetime` parameter reads it
                raise FilterError("intervals need dates or timestamps as ends, '..' for one open")
            try:
                return between(
                    Span.of(start) if start is not None else None,
                    Span.of(end) if end is not None else None,
                )
            except SpanError as error:
                raise FilterError(str(error)) from None
        if isinstance(value, date):
            return Span.of(value)
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
            if self.bbox_in_order:
                return self.envelope(node.x1, node.x2, node.y1, node.y2)
            return self.envelope(node.x1, node.y1, node.x2, node.y2)
        if isinstance(node, values.Geometry):
            self.check_geometry(node.geometry)
            geojson = json.dumps(node.geometry)
            self.geometries.append(geojson)
            geom = sa.func.ST_SetSRID(sa.func.ST_GeomFromGeoJSON(geojson), self.srid)
            return geom if self.srid == 4326 else sa.func.ST_Transform(geom, 4326)
        raise FilterError("a spatial operator needs a geometry literal")

    def envelope(self, minx: Any, miny: Any, maxx: Any, maxy: Any) -> ColumnElement[Any]:
        """A BBOX as a geometry. In CRS84 a west edge east of the east edge crosses the
        antimeridian (OGC, CQL2): two boxes, never the box between them that
        ST_MakeEnvelope would silently make of the swapped edges."""
        edges = [minx, miny, maxx, maxy]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in edges):
            raise FilterError("a BBOX takes four numbers: minx, miny, maxx, maxy")
        problem = box_problem(edges, self.srid)
        if problem is not None:
            raise FilterError(f"a BBOX: {problem}")
        if self.srid == 4326:
            if minx > maxx:
                return sa.func.ST_Collect(
                    sa.func.ST_MakeEnvelope(minx, miny, 180, maxy, 4326),
                    sa.func.ST_MakeEnvelope(-180, miny, maxx, maxy, 4326),
                )
            return sa.func.ST_MakeEnvelope(minx, miny, maxx, maxy, 4326)
        return sa.func.ST_Transform(
            sa.func.ST_MakeEnvelope(minx, miny, maxx, maxy, self.srid), 4326
        )

    def check_geometry(self, geometry: Any) -> None:
        """A geometry literal PostGIS would refuse (a 500) or take to mean something else is
        refused in words: positions of 2 or 3 finite numbers, a line of 2 positions or more,
        closed polygon rings of 4 or more (PostGIS would close one silently)."""
        if not isinstance(geometry, dict):
            raise FilterError("a geometry literal is a GeoJSON geometry object")
        kind = geometry.get("type")
        if kind == "GeometryCollection":
            members = geometry.get("geometries")
            if not isinstance(members, list | tuple):
                raise FilterError("a GeometryCollection lists its 'geometries'")
            for member in members:
                self.check_geometry(member)
            return
        depth = {"Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2}
        depth |= {"Polygon": 2, "MultiPolygon": 3}
        if kind not in depth:
            raise FilterError(f"unknown geometry type {kind!r}")
        coordinates: Any = geometry.get("coordinates")

        def positions(value: Any, level: int) -> None:
            if level == 0:
                if not (
                    isinstance(value, list | tuple)
                    and len(value) in (2, 3)
                    and all(
                        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                        for v in value
                    )
                ):
                    raise FilterError(f"a {kind}'s positions are 2 or 3 finite numbers")
                self.check_position(value[0], value[1])
                return
            if not isinstance(value, list | tuple):
                raise FilterError(f"a {kind}'s coordinates are not nested as GeoJSON says")
            for item in value:
                positions(item, level - 1)

        positions(coordinates, depth[kind])
        lines: list[Any] = []
        if kind == "LineString":
            lines = [coordinates]
        elif kind == "MultiLineString":
            lines = list(coordinates)
        for line in lines:
            if len(line) < 2:
                raise FilterError(f"a {kind} has at least 2 positions")
        rings: list[Any] = []
        if kind == "Polygon":
            rings = list(coordinates)
        elif kind == "MultiPolygon":
            rings = [ring for polygon in coordinates for ring in polygon]
        if kind in ("Polygon", "MultiPolygon") and not all(coordinates):
            raise FilterError(f"a {kind} has at least one ring")
        for ring in rings:
            if len(ring) < 4 or tuple(ring[0]) != tuple(ring[-1]):
                raise FilterError(
                    f"a {kind}'s ring must be closed (its last point the same as its first)"
                    " and have at least 4 points"
                )

    def check_position(self, x: float, y: float) -> None:
        """A position within its CRS, as a BBOX's edges are (`box_problem`): Lambert-93 metres
        written without `filter-crs` found nothing instead of saying why."""
        if self.srid == 4326:
            if not (is_longitude(x) and is_latitude(y)):
                raise FilterError(
                    f"the position ({x:g} {y:g}) is no longitude and latitude in CRS84: longitudes"
                    " are within [-180, 180], latitudes within [-90, 90] (filter-crs names"
                    " another CRS, such as EPSG:2154 in metres)"
                )
        elif not (is_projected(x) and is_projected(y)):
            raise FilterError(f"the position ({x:g} {y:g}) is out of range for the filter-crs")

    def attribute(self, node: Any) -> Property:
        if isinstance(node, ast.Attribute):
            prop = QUERYABLES.get(node.name)
            if node.name == GEOMETRY:  # a queryable, but only of the spatial operators
                raise FilterError(
                    f"'{GEOMETRY}' is filtered with the spatial operators, such as"
                    f" S_INTERSECTS({GEOMETRY}, BBOX(2.2, 48.8, 2.5, 48.9))"
                )
            if prop is None:
                raise FilterError(f"unknown property '{node.name}' (see /queryables)")
            return prop
        if isinstance(node, ast.Function):  # CASEI, ACCENTI...: no conformance class claims them
            raise FilterError(
                "a function (CASEI, ACCENTI, …) is not evaluated here: compare a queryable with"
                " a value"
            )
        raise FilterError("the left side of a comparison must be a queryable property")

    def value(self, node: Any, prop: Property) -> Any:
        """A literal checked against the property's type, so SQL never compares apples and
        oranges (which would be a database error, not a 400)."""
        kind = prop.schema.get("type")
        if prop.schema.get("format") == "date-time":
            if isinstance(node, date):
                return node
            if isinstance(node, str):  # what pygeofilter's cql2-json writer makes of a TIMESTAMP
                raise FilterError(
                    f"'{prop.name}' is compared with a date-time, not the string {node!r}: write"
                    " TIMESTAMP('…') or DATE('…'), in cql2-json {\"timestamp\": \"…\"} or"
                    ' {"date": "…"}'
                )
        elif kind == "boolean":
            if isinstance(node, bool):
                return node
        elif kind == "number":
            if isinstance(node, int | float) and not isinstance(node, bool):
                if isinstance(node, float) and not math.isfinite(node):  # an int always is
                    raise FilterError(f"'{prop.name}' is compared with a finite number, not {node}")
                if isinstance(node, int):
                    return bound_integer(node)
                return node
        elif kind == "string" and isinstance(node, str):
            if "\x00" in node:  # PostgreSQL text holds none: the database's error otherwise
                raise FilterError("a string must not contain a NUL character")
            return node
        if isinstance(node, ast.Attribute):
            raise FilterError(
                f"'{prop.name}' is compared with a value here, not with another property"
                f" ('{node.name}')"
            )
        if isinstance(node, ast.Node):  # arithmetic, a function: never evaluated here
            raise FilterError(
                f"'{prop.name}' is compared with a literal value, not with an expression"
            )
        if isinstance(node, values.Interval):  # an interval is a temporal operator's
            raise FilterError(
                f"'{prop.name}' is compared with one date-time, not an interval: test an"
                " interval with T_DURING, T_AFTER, T_BEFORE or T_INTERSECTS"
            )
        kind_name = "date-time" if prop.schema.get("format") else kind
        raise FilterError(f"'{prop.name}' is compared with a {kind_name}, not {node!r}")
