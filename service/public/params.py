"""Parsing of the open endpoints' query parameters that FastAPI cannot check alone (bbox,
datetime intervals, needs lists): each refusal is a 400 problem naming the parameter."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy.sql.elements import ColumnElement

from service.cabins.models import Cabin
from service.errors import invalid_parameter
from service.public.crs import Crs
from service.public.needs import NEED_NAMES
from service.timespans import SpanError, parse_instant, parse_interval


def parse_bbox(
    value: str, crs: Crs, field: str = "bbox", max_span_deg: float | None = None
) -> list[float]:
    """`minx,miny,maxx,maxy` in the given CRS (lon/lat for CRS84; minx > maxx crosses the
    antimeridian there)."""
    parts = value.split(",")
    if len(parts) == 6:  # a 3D box: the heights are irrelevant to points on the ground
        parts = [parts[0], parts[1], parts[3], parts[4]]
    if len(parts) != 4:
        raise invalid_parameter(field, "four comma-separated numbers: minx,miny,maxx,maxy")
    try:
        box = [float(p) for p in parts]
    except ValueError:
        raise invalid_parameter(
            field,
            "four comma-separated numbers: minx,miny,maxx,maxy",
        ) from None
    problem = box_problem(box, crs.srid)
    if problem is not None:
        raise invalid_parameter(field, problem)
    minx, miny, maxx, maxy = box
    width = maxx - minx if minx <= maxx else maxx + 360 - minx
    if max_span_deg is not None and (width > max_span_deg or maxy - miny > max_span_deg):
        raise invalid_parameter(
            field,
            f"box too large: at most {max_span_deg} degrees on each side",
        )
    return box


def is_longitude(v: float) -> bool:
    return -180 <= v <= 180


def is_latitude(v: float) -> bool:
    return -90 <= v <= 90


def is_projected(v: float) -> bool:
    """A coordinate of a projected CRS (metres): anything within ±10⁸."""
    return abs(v) <= 1e8


def box_problem(box: Sequence[float], srid: int) -> str | None:
    """Why four edges `minx, miny, maxx, maxy` are no box in this CRS; None when they are one.
    In CRS84 a west edge east of the east edge is a box across the antimeridian (OGC API
    Features Part 1 and CQL2); in a projected CRS it is an inverted box."""
    if not all(math.isfinite(v) for v in box):
        return "coordinates must be finite numbers"
    minx, miny, maxx, maxy = box
    if srid == 4326:
        if not (is_longitude(minx) and is_longitude(maxx)):
            return "longitudes must be within [-180, 180]"
        if not (is_latitude(miny) and is_latitude(maxy)):
            return "latitudes must be within [-90, 90]"
    elif not all(is_projected(v) for v in box):
        return "coordinates out of range for the CRS"
    if miny > maxy:
        return "inverted box: miny (the south edge) must not exceed maxy (the north edge)"
    if minx > maxx and srid != 4326:
        return "inverted box: minx (the west edge) must not exceed maxx (the east edge)"
    return None


def parse_needs(value: str | None) -> list[str]:
    if not value:
        return []
    names = list(dict.fromkeys(n.strip() for n in value.split(",") if n.strip()))  # once each
    unknown = [n for n in names if n not in NEED_NAMES]
    if unknown:
        raise invalid_parameter(
            "needs",
            f"unknown need {unknown[0]!r}; known: {', '.join(NEED_NAMES)}",
        )
    return names


DATETIME_FORMS = (
    "an RFC 3339 date or date-time (a date is its whole day in UTC, a date-time the second or"
    " minute it is written to), or an interval start/end with '..' for an open end"
)


def datetime_filter(value: str) -> ColumnElement[bool]:
    """OGC `datetime` (an instant or an interval `start/end`, `..` open) on `updated_at`, as
    `service.timespans` reads dates everywhere."""
    try:
        return parse_interval(value).holds(Cabin.updated_at)
    except SpanError as error:
        raise invalid_parameter("datetime", f"{error}; expected {DATETIME_FORMS}") from None


def instant_filter(target: Any, value: str, field: str) -> ColumnElement[bool]:
    """`updated_at=` as a property filter: the instants the value covers, as `datetime`
    reads an instant."""
    try:
        return parse_instant(value).holds(target)
    except SpanError as error:
        raise invalid_parameter(field, f"{error}; expected a date or date-time") from None
