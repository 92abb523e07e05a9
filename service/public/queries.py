"""Every SQL statement of the open endpoints. Features and result lists are built as JSON text
by PostgreSQL (`json_build_object`, `ST_AsGeoJSON`, `json_agg`), so Python passes the bytes on
without re-serialising them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from geoalchemy2 import Geography
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from service.cabins.models import Cabin
from service.public.crs import Crs
from service.public.needs import all_met, build_needs, text
from service.public.properties import properties_object
from service.rules.models import CabinCompliance
from service.sqltext import inline_constants

# Metres per degree of latitude are at least 110,574 on the ellipsoid; dividing by less
# makes the search box a little larger than needed, never smaller.
METRES_PER_DEGREE_FLOOR = 110_000.0


def is_public() -> ColumnElement[bool]:
    """Only active cabins are ever public."""
    return Cabin.status == "active"


def envelope(bbox: Sequence[float], crs: Crs) -> ColumnElement[Any]:
    box = sa.func.ST_MakeEnvelope(*bbox, crs.srid)
    return box if crs.srid == 4326 else sa.func.ST_Transform(box, 4326)


def in_bbox(bbox: Sequence[float], crs: Crs) -> ColumnElement[bool]:
    # `&&` (GeoAlchemy2's `intersects`) on points is the bounding-box test the GiST index answers.
    minx, miny, maxx, maxy = bbox
    if crs.srid == 4326 and minx > maxx:  # across the antimeridian: its two sides
        return sa.or_(
            Cabin.geom.intersects(envelope([minx, miny, 180.0, maxy], crs)),
            Cabin.geom.intersects(envelope([-180.0, miny, maxx, maxy], crs)),
        )
    return Cabin.geom.intersects(envelope(bbox, crs))


@lru_cache
def geometry(crs: Crs) -> ColumnElement[Any]:
    geom = Cabin.geom if crs.srid == 4326 else sa.func.ST_Transform(Cabin.geom, crs.srid)
    # options 0: no "crs" member (RFC 7946 has none; the CRS is in the Content-Crs header)
    return sa.cast(sa.func.ST_AsGeoJSON(geom, crs.decimals, 0), sa.JSON)


@lru_cache
def feature(crs: Crs) -> ColumnElement[Any]:
    """One GeoJSON Feature (RFC 7946); its id is the public reference. Built once per CRS."""
    return inline_constants(
        sa.func.json_build_object(
            text("type"),
            text("Feature"),
            text("id"),
            Cabin.reference,
            text("geometry"),
            geometry(crs),
            text("properties"),
            properties_object(),
        )
    )


@dataclass(frozen=True)
class Page:
    features: bytes  # a JSON array
    returned: int
    has_more: bool


def geometry_problem(session: Session, geojsons: Sequence[str]) -> str | None:
    """Why PostGIS finds the first invalid one of a filter's GeoJSON geometries invalid
    (`Self-intersection[2.5 49]`, in the literal's own coordinates, whatever its CRS), or None
    when every one is valid: one query for all of them."""
    if not geojsons:
        return None
    given = (
        sa.func.unnest(sa.bindparam("geojsons", list(geojsons), type_=ARRAY(sa.Text)))
        .table_valued("geojson", with_ordinality="n")
        .render_derived(name="given")
    )
    geom = sa.func.ST_GeomFromGeoJSON(given.c.geojson)
    first_invalid = (
        sa.select(sa.func.ST_IsValidReason(geom))
        .select_from(given)
        .where(sa.not_(sa.func.ST_IsValid(geom)))
        .order_by(given.c.n)
        .limit(1)
    )
    reason = session.scalar(first_invalid)
    return None if reason is None else str(reason)


def items_page(
    session: Session, where: Sequence[ColumnElement[bool]], limit: int, offset: int, crs: Crs
) -> Page:
    """One page of features in a stable order (by internal id, never published); one row past
    the page tells whether a next page exists, so no count of the whole set is needed."""
    rows = (
        sa.select(
            feature(crs).label("feature"),
            sa.func.row_number().over(order_by=Cabin.id).label("n"),
        )
        .where(is_public(), *where)
        .order_by(Cabin.id)
        .limit(limit + 1)
        .offset(offset)
        .subquery()
    )
    stmt = sa.select(
        sa.cast(
            sa.func.coalesce(
                sa.func.json_agg(aggregate_order_by(rows.c.feature, rows.c.n)).filter(
                    rows.c.n <= offset + limit
                ),
                sa.literal_column("'[]'::json"),
            ),
            sa.Text,
        ),
        sa.func.count(),
    )
    features, count = session.execute(stmt).one()
    return Page(features.encode(), min(count, limit), count > limit)


@lru_cache
def _item_statement(crs: Crs) -> sa.Select[Any]:
    return inline_constants(
        sa.select(sa.cast(feature(crs), sa.Text)).where(
            is_public(), Cabin.reference == sa.bindparam("reference", type_=sa.String)
        )
    )


def item(session: Session, reference: str, crs: Crs) -> bytes | None:
    found = session.execute(_item_statement(crs), {"reference": reference}).scalar()
    return found.encode() if found is not None else None


def window_features(session: Session, bbox: Sequence[float], crs: Crs) -> Iterator[str]:
    """The features in a map window, streamed from a server-side cursor."""
    stmt = (
        sa.select(sa.cast(feature(crs), sa.Text))
        .where(is_public(), in_bbox(bbox, crs))
        .order_by(Cabin.id)
        .execution_options(yield_per=500)
    )
    yield from session.execute(stmt).scalars()


def window_fingerprint(session: Session, bbox: Sequence[float], crs: Crs) -> str:
    """A cheap summary of a window's content: it changes whenever a public cabin in the
    window is added, removed or edited (count, latest change, sum of versions), and whenever
    the rule engine changes a cabin's published compliance status or accessibility label
    with no edit of the cabin (a new rule set or layer vintage): a digest of those, per cabin,
    that no stamp taken before the engine's lock can hide."""
    published = sa.func.hashtext(
        sa.func.concat_ws(
            ":", Cabin.id, CabinCompliance.compliance_status, CabinCompliance.accessibility_label
        )
    )
    stmt = (
        sa.select(
            sa.func.count(),
            sa.func.max(Cabin.updated_at),
            sa.func.coalesce(sa.func.sum(Cabin.version), 0),
            sa.func.coalesce(sa.func.sum(published), 0),
        )
        .select_from(Cabin)
        .outerjoin(CabinCompliance, CabinCompliance.cabin_id == Cabin.id)
        .where(is_public(), in_bbox(bbox, crs))
    )
    count, latest, versions, judged = session.execute(stmt).one()
    return f"{count}:{latest.isoformat() if latest else '-'}:{versions}:{judged}"


def extent(session: Session) -> tuple[list[float] | None, datetime | None, datetime | None]:
    """Spatial (CRS84) and temporal (updated_at) extent of the public cabins."""
    box = sa.func.ST_Extent(Cabin.geom)
    stmt = sa.select(
        sa.func.ST_XMin(box),
        sa.func.ST_YMin(box),
        sa.func.ST_XMax(box),
        sa.func.ST_YMax(box),
        sa.func.min(Cabin.updated_at),
        sa.func.max(Cabin.updated_at),
    ).where(is_public())
    xmin, ymin, xmax, ymax, first, last = session.execute(stmt).one()
    bbox = None if xmin is None else [float(xmin), float(ymin), float(xmax), float(ymax)]
    return bbox, first, last


def nearest(
    session: Session,
    lon: float,
    lat: float,
    limit: int,
    radius_m: float | None,
    needs: Sequence[str],
    min_door_width_cm: float | None,
    include_unknown: bool,
    accessible: bool = False,
) -> bytes:
    """The `limit` public cabins nearest to the point by geodesic distance, as a JSON array
    (see `_nearest_statement`)."""
    stmt = _nearest_statement(
        tuple(needs),
        min_door_width_cm is not None,
        include_unknown,
        radius_m is not None,
        accessible,
    )
    params = {
        "lon": lon,
        "lat": lat,
        "limit": limit,
        "radius": radius_m,
        "min_door": min_door_width_cm,
    }
    return str(session.execute(stmt, params).scalar()).encode()


@lru_cache(maxsize=256)
def _nearest_statement(
    names: tuple[str, ...],
    min_door: bool,
    include_unknown: bool,
    with_radius: bool,
    accessible: bool = False,
) -> sa.Select[Any]:
    """Built once per shape of query, run with bound parameters.

    Step 1 takes `limit` candidates by KNN (`geom <-> point`, the GiST index); the farthest of
    them, in true metres, bounds the distance of the real top `limit`. Step 2 takes every cabin
    within that bound (a degree box the index answers, then `ST_DWithin` on geography) and
    orders it by geodesic distance: planar degrees alone give a wrong order away from the
    equator."""
    lon = sa.bindparam("lon", type_=sa.Float)
    lat = sa.bindparam("lat", type_=sa.Float)
    limit = sa.bindparam("limit", type_=sa.Integer)
    radius = sa.bindparam("radius", type_=sa.Float)
    needs = build_needs(names, sa.bindparam("min_door", type_=sa.Float) if min_door else None)

    point = sa.func.ST_SetSRID(sa.func.ST_MakePoint(lon, lat), 4326)
    point_geog = sa.cast(point, Geography)
    cabin_geog = sa.cast(Cabin.geom, Geography)
    distance = sa.func.ST_Distance(cabin_geog, point_geog)

    where: list[ColumnElement[bool]] = [is_public()]
    if needs:
        met = all_met(needs)
        where.append(met.is_not(sa.false()) if include_unknown else met.is_(sa.true()))
    if accessible:
        where.append(labelled_accessible())
    if with_radius:
        where += [
            Cabin.geom.intersects(box_around(point, radius, lat)),
            sa.func.ST_DWithin(cabin_geog, point_geog, radius),
        ]

    candidates = (
        sa.select(distance.label("d"))
        .where(*where)
        .order_by(Cabin.geom.distance_centroid(point))
        .limit(limit)
        .cte("candidates")
    )
    # a centimetre of slack: ST_DWithin and ST_Distance round differently at the boundary
    bound = sa.select(sa.func.max(candidates.c.d) + 0.01).scalar_subquery()

    result: list[Any] = [
        text("reference"),
        Cabin.reference,
        text("distance_m"),
        sa.func.round(sa.cast(distance, sa.Numeric), 1),
        text("lon"),
        sa.func.round(sa.cast(sa.func.ST_X(Cabin.geom), sa.Numeric), 7),
        text("lat"),
        sa.func.round(sa.cast(sa.func.ST_Y(Cabin.geom), sa.Numeric), 7),
    ]
    if needs:
        met = all_met(needs)
        evidence: list[Any] = []
        for need in needs:
            evidence += [text(need.name), need.evidence()]
        result += [
            text("match"),
            sa.case((met.is_(sa.true()), text("met")), else_=text("unknown")),
            text("needs"),
            sa.func.json_build_object(*evidence),
        ]
    result += [text("properties"), properties_object()]

    ranked = (
        sa.select(sa.func.json_build_object(*result).label("r"), distance.label("d"))
        .where(
            *where,
            Cabin.geom.intersects(box_around(point, bound, lat)),
            sa.func.ST_DWithin(cabin_geog, point_geog, bound),
        )
        .order_by(distance, Cabin.reference)
        .limit(limit)
        .subquery()
    )
    return inline_constants(
        sa.select(
            sa.cast(
                sa.func.coalesce(
                    sa.func.json_agg(aggregate_order_by(ranked.c.r, ranked.c.d)),
                    sa.literal_column("'[]'::json"),
                ),
                sa.Text,
            )
        )
    )


def labelled_accessible() -> ColumnElement[bool]:
    """The rule engine labels the cabin `accessible` (SIT-16 to SIT-18); a cabin not yet
    evaluated has no label and is not accessible for this purpose."""
    return sa.exists().where(
        CabinCompliance.cabin_id == Cabin.id,
        CabinCompliance.accessibility_label == "accessible",
    )


def box_around(point: ColumnElement[Any], metres: Any, lat: Any) -> ColumnElement[Any]:
    """A lon/lat box holding every point within `metres` of `point` (a little larger)."""
    dlat = metres / METRES_PER_DEGREE_FLOOR
    widest = sa.func.least(89.0, sa.func.abs(lat) + dlat)
    dlon = dlat / sa.func.cos(sa.func.radians(widest))
    return sa.func.ST_Expand(point, dlon, dlat)
