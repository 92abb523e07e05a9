"""Parsing of the open endpoints' query parameters that FastAPI cannot check alone (bbox,
datetime intervals, needs lists): each refusal is a 400 problem naming the parameter."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from service.cabins.models import Cabin
from service.errors import InvalidParameter
from service.public.crs import Crs
from service.public.needs import NEED_NAMES


def bad(field: str, reason: str) -> InvalidParameter:
    return InvalidParameter(f"{field}: {reason}", errors=[{"field": field, "reason": reason}])


def parse_bbox(
    value: str, crs: Crs, field: str = "bbox", max_span_deg: float | None = None
) -> list[float]:
    """`minx,miny,maxx,maxy` in the given CRS (lon/lat for CRS84; minx > maxx crosses the
    antimeridian there)."""
    parts = value.split(",")
    if len(parts) == 6:  # a 3D box: the heights are irrelevant to points on the ground
        parts = [parts[0], parts[1], parts[3], parts[4]]
    if len(parts) != 4:
        raise bad(field, "four comma-separated numbers: minx,miny,maxx,maxy")
    try:
        box = [float(p) for p in parts]
    except ValueError:
        raise bad(field, "four comma-separated numbers: minx,miny,maxx,maxy") from None
    problem = box_problem(box, crs.srid)
    if problem is not None:
        raise bad(field, problem)
    minx, miny, maxx, maxy = box
    width = maxx - minx if minx <= maxx else maxx + 360 - minx
    if max_span_deg is not None and (width > max_span_deg or maxy - miny > max_span_deg):
        raise bad(field, f"box too large: at most {max_span_deg} degrees on each side")
    return box


def box_problem(box: Sequence[float], srid: int) -> str | None:
    """Why four edges `minx, miny, maxx, maxy` are no box in this CRS; None when they are one.
    In CRS84 a west edge east of the east edge is a box across the antimeridian (OGC API
    Features Part 1 and CQL2); in a projected CRS it is an inverted box."""
    if not all(math.isfinite(v) for v in box):
        return "coordinates must be finite numbers"
    minx, miny, maxx, maxy = box
    if srid == 4326:
        if not (-180 <= minx <= 180 and -180 <= maxx <= 180):
            return "longitudes must be within [-180, 180]"
        if not (-90 <= miny <= 90 and -90 <= maxy <= 90):
            return "latitudes must be within [-90, 90]"
    elif not all(abs(v) <= 1e8 for v in box):
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
        raise bad("needs", f"unknown need {unknown[0]!r}; known: {', '.join(NEED_NAMES)}")
    return names


RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:\d{2})?)?", re.ASCII
)


def _instant(text: str, field: str = "datetime") -> tuple[datetime, datetime] | None:
    """The first instant a datetime end stands for and the first one past it: a date-time is
    one instant; a date (2026-11-23) is its whole day in UTC, so `datetime=2026-11-23` finds
    the cabins updated that day (it compared them with midnight and found none)."""
    if text in ("", ".."):
        return None
    reason = "an RFC 3339 date-time, or an interval start/end with '..'"
    refused = bad(field, reason if field == "datetime" else "an RFC 3339 date-time or date")
    # RFC 3339's form only (2026-11-23, 2026-11-23T16:00:00Z, t and z in either case): Python
    # would also read 20261123 as a date-time, at midnight, and find nothing.
    if not RFC3339.fullmatch(text):
        raise refused
    try:
        if len(text) == 10:
            day = datetime.combine(date.fromisoformat(text), time(), UTC)
            return day, day + timedelta(days=1)
        parsed = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        raise refused from None
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return parsed, parsed


def datetime_filter(value: str) -> ColumnElement[bool]:
    """OGC `datetime` (an instant or an interval `start/end`, `..` open) on `updated_at`."""
    target: Any = Cabin.updated_at
    if "/" in value:
        start_text, _, end_text = value.partition("/")
        start, end = _instant(start_text), _instant(end_text)
        if start is None and end is None:
            raise bad("datetime", "an interval needs at least one end")
        if start and end and start[0] > end[0]:
            raise bad("datetime", "the interval ends before it starts")
        conditions = []
        if start is not None:
            conditions.append(target >= start[0])
        if end is not None:
            first, past = end
            conditions.append(target < past if past > first else target <= first)
        return sa.and_(*conditions)
    instant = _instant(value)
    if instant is None:
        raise bad("datetime", "an RFC 3339 date-time or an interval")
    return at_instant(target, instant)


def at_instant(target: Any, instant: tuple[datetime, datetime]) -> ColumnElement[bool]:
    first, past = instant
    return sa.and_(target >= first, target < past) if past > first else target == first  # type: ignore[no-any-return]


def instant_filter(target: Any, value: str, field: str) -> ColumnElement[bool]:
    """`updated_at=` as a property filter: the instant, or the whole day of a date, as the
    `datetime` parameter reads it."""
    instant = _instant(value, field)
    if instant is None:
        raise bad(field, "an RFC 3339 date-time or date")
    return at_instant(target, instant)
