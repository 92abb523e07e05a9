"""Finder-app endpoints (no key): the nearest cabins meeting accessibility needs, and the
cabins in a map window as GeoJSON. Thin: parse, call `queries`, pass PostgreSQL's JSON on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from service.errors import invalid_parameter, problem_responses
from service.public import queries
from service.public.caching import CACHE_CONTROL, cached, etag_of, not_modified
from service.public.crs import CRS84, SUPPORTED
from service.public.needs import NEED_NAMES
from service.public.params import parse_bbox, parse_needs
from service.public.schemas import (
    GEOJSON,
    GEOJSON_200,
    FeatureCollection,
    NearestResponse,
)
from service.reads import ReadSession, snapshot
from service.routing import ApiRoute

router = APIRouter(route_class=ApiRoute, tags=["finder apps"])


@router.get(
    "/public/cabins/nearest",
    response_model=NearestResponse,
    responses=problem_responses(400, 429),
    summary="Nearest active cabins, optionally meeting accessibility needs",
    description="Ordered by geodesic distance in metres. With `needs`, only cabins meeting every"
    " need are returned (with `include_unknown=true`, also those whose data is missing for a"
    " need, marked `match: unknown`); each result says per need whether it is met and why."
    " With `accessible=true`, only cabins labelled `accessible` by the rule engine.",
)
def nearest(
    request: Request,
    session: ReadSession,
    lat: Annotated[
        float, Query(ge=-90, le=90, allow_inf_nan=False, description="Latitude, WGS 84")
    ],
    lon: Annotated[
        float, Query(ge=-180, le=180, allow_inf_nan=False, description="Longitude, WGS 84")
    ],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
    radius: Annotated[
        float | None,
        Query(
            ge=1, allow_inf_nan=False, description="Search radius in metres (at most the setting)"
        ),
    ] = None,
    needs: Annotated[
        str | None, Query(description=f"Comma-separated: {', '.join(NEED_NAMES)}")
    ] = None,
    min_door_width_cm: Annotated[
        float | None,
        Query(
            ge=30, le=400, allow_inf_nan=False, description="Cabin door clear width at least (cm)"
        ),
    ] = None,
    include_unknown: Annotated[
        bool, Query(description="Also return cabins whose data is unknown for a need")
    ] = False,
    accessible: Annotated[
        bool,
        Query(
            description="Only cabins the rule engine labels `accessible` (SIT-16 to SIT-18:"
            " `accessibility_label` in the properties); a cabin not yet evaluated is not"
        ),
    ] = False,
) -> Response:
    settings = request.app.state.settings
    if radius is not None and radius > settings.max_search_radius_m:
        raise invalid_parameter("radius", f"at most {settings.max_search_radius_m} metres")
    names = parse_needs(needs)
    results = queries.nearest(
        session, lon, lat, limit, radius, names, min_door_width_cm, include_unknown, accessible
    )
    query = {
        "lat": lat,
        "lon": lon,
        "limit": limit,
        "radius_m": radius,
        "needs": names,
        "min_door_width_cm": min_door_width_cm,
        "include_unknown": include_unknown,
        "accessible": accessible,
    }
    body = b'{"query":' + orjson.dumps(query) + b',"results":' + results + b"}"
    return cached(request, body, "application/json")


@router.get(
    "/public/cabins",
    response_model=FeatureCollection,
    responses={**problem_responses(400, 429), **GEOJSON_200},
    summary="Active cabins in a map window (GeoJSON FeatureCollection, streamed)",
)
def window(
    request: Request,
    session: ReadSession,
    bbox: Annotated[
        str,
        Query(
            description="minlon,minlat,maxlon,maxlat (WGS 84)", examples=["2.25,48.81,2.42,48.9"]
        ),
    ],
) -> Response:
    crs = SUPPORTED[CRS84]
    box = parse_bbox(bbox, crs, max_span_deg=request.app.state.settings.public_bbox_max_span_deg)
    snapshot(session)
    etag = etag_of("window", *map(str, box), queries.window_fingerprint(session, box, crs))
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if not_modified(request, etag):
        return Response(status_code=304, headers=headers)

    def body() -> Iterator[bytes]:
        yield b'{"type":"FeatureCollection","features":['
        for n, feature in enumerate(queries.window_features(session, box, crs)):
            yield (b"," if n else b"") + feature.encode()
        yield b"]}"

    return StreamingResponse(body(), media_type=GEOJSON, headers=headers)
