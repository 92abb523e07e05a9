"""Parsing of the open endpoints' query parameters that FastAPI cannot check alone (bbox,
datetime intervals, needs lists): each refusal is a 400 problem naming the parameter."""

from __future__ import annotations

import math
from datetime import UTC, datetime
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
    """`minx,miny,maxx,maxy` in the given CRS (lon/lat for CRS84)."""
    parts = value.split(",")
    if len(parts) == 6:  # a 3D box: the heights are irrelevant to points on the ground
        parts = [parts[0], parts[1], parts[3], parts[4]]
    if len(parts) != 4:
        raise bad(field, "four comma-separated numbers: minx,miny,maxx,maxy")
    try:
        box = [float(p) for p in parts]
    except ValueError:
        raise bad(field, "four comma-separated numbers: minx,miny,maxx,maxy") from None
    if not all(math.isfinite(v) for v in box):
        raise bad(field, "coordinates must be finite numbers")
    minx, miny, maxx, maxy = box
    if crs.srid == 4326:
        if not (-180 <= minx <= 180 and -180 <= maxx <= 180):
            raise bad(field, "longitudes must be within [-180, 180]")
        if not (-90 <= miny <= 90 and -90 <= maxy <= 90):
            raise bad(field, "latitudes must be within [-90, 90]")
    elif not all(abs(v) <= 1e8 for v in box):
        raise bad(field, "coordinates out of range for the CRS")
    if minx > maxx or miny > maxy:
        raise bad(field, "inverted box: the minimum must not exceed the maximum")
    if max_span_deg is not None and (maxx - minx > max_span_deg or maxy - miny > max_span_deg):
        raise bad(field, f"box too large: at most {max_span_deg} degrees on each side")
    return box


def parse_needs(value: str | None) -> list[str]:
    if not value:
        return []
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in NEED_NAMES]
    if unknown:
        raise bad("needs", f"unknown need {unknown[0]!r}; known: {', '.join(NEED_NAMES)}")
    return names


def _instant(text: str) -> datetime | None:
    if text in ("", ".."):
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise bad("datetime", "an RFC 3339 date-time, or an interval start/end with '..'") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def datetime_filter(value: str) -> ColumnElement[bool]:
    """OGC `datetime` (an instant or an interval `start/end`, `..` open) on `updated_at`."""
    target: Any = Cabin.updated_at
    if "/" in value:
        start_text, _, end_text = value.partition("/")
        start, end = _instant(start_text), _instant(end_text)
        if start is None and end is None:
            raise bad("datetime", "an interval needs at least one end")
        if start and end and start > end:
            raise bad("datetime", "the interval ends before it starts")
        conditions = []
        if start is not None:
            conditions.append(target >= start)
        if end is not None:
            conditions.append(target <= end)
        return sa.and_(*conditions)
    instant = _instant(value)
    if instant is None:
        raise bad("datetime", "an RFC 3339 date-time or an interval")
    return target == instant
