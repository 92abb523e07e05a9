"""The public reference-data API: communes, départements, régions, locate a point, and the
list of loaded layers. No key; read-only; thin over `queries`."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from service.errors import InvalidParameter, NotFound, problem_responses
from service.patterns import VISIBLE_TEXT
from service.reads import ReadSession
from service.routing import ApiRoute
from service.territories import codes, queries, search
from service.territories.models import LAYER_KINDS
from service.territories.schemas import (
    CommuneMatch,
    CommuneMatches,
    CommuneRead,
    DepartementRead,
    LayerRead,
    Located,
    RegionRead,
)

router = APIRouter(route_class=ApiRoute, tags=["reference data"])

WithGeometry = Annotated[
    bool, Query(description="Include the polygon as GeoJSON (EPSG:4326, 6 decimals)")
]


def _code(
    value: str,
    field: str,
    regex: re.Pattern[str],
    expected: str,
    length: int,
) -> str:
    """A code as people type it (spaces around, lower case) in the form the layers hold, or
    a 400 naming the parameter and what it accepts."""
    code = codes.normalise_code(value)
    if not regex.match(code):
        raise InvalidParameter(
            f"{value.strip()!r} is not {expected}.",
            errors=[
                {
                    "field": field,
                    "reason": f"must be {expected}{codes.dropped_zero(value, length)}",
                }
            ],
        )
    return code


def _ref(row: Any, prefix: str, *names: str) -> dict[str, Any] | None:
    if row[f"{prefix}_{names[0]}"] is None:
        return None
    return {name: row[f"{prefix}_{name}"] for name in names}


@router.get(
    "/v1/territories/communes",
    response_model=CommuneMatches,
    responses=problem_responses(400),
    summary="Communes matching a name, an INSEE code or a postcode",
    description="Current commune layer; accents, case, hyphens and apostrophes ignored; an"
    " exact INSEE code first, then an exact name, then by population.",
)
def search_communes(
    session: ReadSession,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=100,
            pattern=VISIBLE_TEXT,
            description="What the person typed",
            examples=["Lyon"],
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=20)] = 8,
) -> CommuneMatches:
    rows = search.search_communes(session, q, limit)
    return CommuneMatches(
        items=[
            CommuneMatch(
                **{
                    **row,
                    "postcodes": list(row["postcodes"] or []),
                    "lon": None if row["lon"] is None else float(row["lon"]),
                    "lat": None if row["lat"] is None else float(row["lat"]),
                }
            )
            for row in rows
        ]
    )


@router.get(
    "/v1/territories/communes/{insee}",
    response_model=CommuneRead,
    responses=problem_responses(400, 404),
    summary="A commune of the current vintage",
)
def get_commune(
    insee: Annotated[
        str,
        Path(
            max_length=32,
            description="INSEE code, e.g. 75056 or 2A004 (case and surrounding spaces ignored)",
        ),
    ],
    session: ReadSession,
    geometry: WithGeometry = False,
) -> dict[str, Any]:
    insee = _code(insee, "insee", codes.INSEE_RE, codes.INSEE_FORMAT, 5)
    row = queries.commune_detail(session, insee, geometry)
    if row is None:
        raise NotFound(
            f"No commune {insee} in the current layer.",
            errors=[
                {
                    "field": "insee",
                    "reason": codes.arrondissement_reason(insee)
                    or codes.not_covered_reason(insee)
                    or "unknown INSEE commune code",
                }
            ],
        )
    return {
        **{k: row[k] for k in ("insee", "name", "population", "siren", "postcodes", "vintage")},
        "departement": _ref(row, "departement", "code", "name"),
        "region": _ref(row, "region", "code", "name"),
        "epci": _ref(row, "epci", "siren", "name", "kind"),
        "point": row["point"],
        "geometry": row["geometry"],
    }


@router.get(
    "/v1/territories/departements/{code}",
    response_model=DepartementRead,
    responses=problem_responses(400, 404),
    summary="A département of the current vintage",
)
def get_departement(
    code: Annotated[
        str,
        Path(max_length=32, description="e.g. 69, 2A, 974 (case and surrounding spaces ignored)"),
    ],
    session: ReadSession,
    geometry: WithGeometry = False,
) -> dict[str, Any]:
    code = _code(code, "code", codes.DEPARTEMENT_RE, codes.DEPARTEMENT_FORMAT, 2)
    row = queries.departement_detail(session, code, geometry)
    if row is None:
        raise NotFound(
            f"No département {code} in the current layer.",
            errors=[
                {
                    "field": "code",
                    "reason": codes.not_covered_reason(code) or "unknown département code",
                }
            ],
        )
    return {
        **{k: row[k] for k in ("code", "name", "population", "commune_count", "vintage")},
        "region": _ref(row, "region", "code", "name"),
        "geometry": row["geometry"],
    }


@router.get(
    "/v1/territories/regions/{code}",
    response_model=RegionRead,
    responses=problem_responses(400, 404),
    summary="A région of the current vintage",
)
def get_region(
    code: Annotated[
        str, Path(max_length=32, description="INSEE code, e.g. 84 (surrounding spaces ignored)")
    ],
    session: ReadSession,
    geometry: WithGeometry = False,
) -> dict[str, Any]:
    code = _code(code, "code", codes.REGION_RE, codes.REGION_FORMAT, 2)
    row = queries.region_detail(session, code, geometry)
    if row is None:
        raise NotFound(
            f"No région {code} in the current layer.",
            errors=[{"field": "code", "reason": "unknown région code"}],
        )
    return dict(row)


@router.get(
    "/v1/territories/locate",
    response_model=Located,
    responses=problem_responses(400, 404),
    summary="The commune, EPCI, département, région, zoning and CPTS at a point",
)
def locate(
    session: ReadSession,
    lat: Annotated[
        float, Query(ge=-90, le=90, allow_inf_nan=False, description="Latitude, WGS 84")
    ],
    lon: Annotated[
        float, Query(ge=-180, le=180, allow_inf_nan=False, description="Longitude, WGS 84")
    ],
) -> dict[str, Any]:
    row = queries.locate(session, lon, lat)
    if row is None:
        reason = "outside every commune"
        swapped = queries.commune_at_point(session, lat, lon) if abs(lon) <= 90 else None
        if swapped is not None:
            reason += (
                f"; lat and lon look swapped: lat={lon}, lon={lat} is in {swapped.name}"
                f" ({swapped.insee})"
            )
        raise NotFound(
            "No commune of the current layer at this point (at sea, abroad, or in a"
            " collectivité d'outre-mer, which the layer does not cover).",
            errors=[{"field": "lat,lon", "reason": reason}],
        )
    return {
        "lat": lat,
        "lon": lon,
        "commune": {k: row[k] for k in ("insee", "name", "population", "vintage")},
        "epci": _ref(row, "epci", "siren", "name", "kind"),
        "departement": _ref(row, "departement", "code", "name"),
        "region": _ref(row, "region", "code", "name"),
        "medical_zone": row["medical_zone"],
        "cpts": row["cpts"],
        "zone_rouge": row["zone_rouge"],
    }


@router.get(
    "/v1/layers",
    response_model=list[LayerRead],
    responses=problem_responses(400),
    summary="The loaded reference layers: vintage, source, synthetic or not, current or not",
)
def list_layers(
    session: ReadSession,
    kind: Annotated[
        str | None, Query(pattern="^(" + "|".join(LAYER_KINDS) + ")$", description="Layer kind")
    ] = None,
    current: Annotated[bool | None, Query(description="Only current (or past) layers")] = None,
) -> list[dict[str, Any]]:
    return [dict(row) for row in queries.list_layers(session, kind, current)]
