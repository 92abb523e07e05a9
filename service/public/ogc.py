"""OGC API Features under `/ogc`: Part 1 Core + GeoJSON, Part 2 CRS (CRS84, Lambert-93 and
the overseas UTM zones), Part 3 Filtering (queryables, CQL2 text and JSON). One collection,
`cabins`: the active cabins with their public properties. Thin: parse, call `queries`, pass
PostgreSQL's JSON on."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy.sql.elements import ColumnElement

from service.errors import NotFound, invalid_parameter, problem_responses
from service.public import queries
from service.public.caching import cached, etag_of
from service.public.cql2 import GEOMETRY, invalid_geometry, parse_filter
from service.public.crs import CRS84, SUPPORTED, parse_crs
from service.public.params import datetime_filter, instant_filter, parse_bbox
from service.public.properties import QUERYABLES
from service.public.schemas import (
    GEOJSON,
    GEOJSON_200,
    GEOJSON_FEATURE_200,
    Collection,
    Collections,
    Conformance,
    Feature,
    FeatureCollection,
    LandingPage,
    Queryables,
)
from service.reads import ReadSession
from service.routing import ApiRoute, own_query_names

router = APIRouter(route_class=ApiRoute, prefix="/ogc", tags=["OGC API Features"])


# The API definition's path (service.app serves it), the landing page's service-desc link.
OPENAPI_PATH = "/openapi.json"


def openapi_media_type(version: str) -> str:
    """The service-desc link's type names the OpenAPI version the definition is written in
    (3.1.0 -> version=3.1), so a client reads it as what it is."""
    major_minor = ".".join(version.split(".")[:2])
    return f"application/vnd.oai.openapi+json;version={major_minor}"


COLLECTION = "cabins"
MAX_LIMIT = 1000
"""The largest page of items; a larger `limit` is served as this one."""
JSON = "application/json"
SCHEMA_JSON = "application/schema+json"

# No `oas30`: the API definition FastAPI writes is OpenAPI 3.1, which that class does not cover.
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
]

ITEMS_PARAMETERS = {
    "bbox",
    "bbox-crs",
    "crs",
    "limit",
    "offset",
    "datetime",
    "filter",
    "filter-lang",
    "filter-crs",
    "f",
}

Format = Annotated[
    str | None, Query(description="Output format: json (the only one)", pattern="^(json|geojson)$")
]


def base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def json_response(request: Request, document: Any) -> Response:
    return cached(request, orjson.dumps(document), JSON)


@router.get(
    "",
    response_model=LandingPage,
    responses=problem_responses(400, 429),
    summary="OGC API landing page",
)
def landing(request: Request, f: Format = None) -> Response:
    root = base(request)
    api = str(request.base_url).rstrip("/") + OPENAPI_PATH
    return json_response(
        request,
        {
            "title": "Cabin Registry — open data",
            "description": "Active teleconsultation cabins in France, with their venue,"
            " opening hours, accessibility and patient fees.",
            "links": [
                {"href": root, "rel": "self", "type": JSON, "title": "This document"},
                {
                    "href": api,
                    "rel": "service-desc",
                    "type": openapi_media_type(request.app.openapi_version),
                    "title": "The API definition",
                },
                {
                    "href": f"{root}/conformance",
                    "rel": "conformance",
                    "type": JSON,
                    "title": "Conformance classes implemented",
                },
                {
                    "href": f"{root}/collections",
                    "rel": "data",
                    "type": JSON,
                    "title": "Collections",
                },
            ],
        },
    )


@router.get(
    "/conformance",
    response_model=Conformance,
    responses=problem_responses(400, 429),
    summary="The conformance classes implemented",
)
def conformance(request: Request, f: Format = None) -> Response:
    return json_response(request, {"conformsTo": CONFORMANCE})


def collection_document(request: Request, session: ReadSession) -> dict[str, Any]:
    root = base(request)
    bbox, first, last = queries.extent(session)
    here = f"{root}/collections/{COLLECTION}"
    return {
        "id": COLLECTION,
        "title": "Teleconsultation cabins",
        "description": "Active cabins only; properties a finder app shows, nothing private.",
        "itemType": "feature",
        "links": [
            {"href": here, "rel": "self", "type": JSON, "title": "This collection"},
            {"href": f"{here}/items", "rel": "items", "type": GEOJSON, "title": "Cabins"},
            {
                "href": f"{here}/queryables",
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                "type": SCHEMA_JSON,
                "title": "Queryable properties",
            },
        ],
        "extent": {
            "spatial": {"bbox": [bbox or [-180.0, -90.0, 180.0, 90.0]], "crs": CRS84},
            "temporal": {
                "interval": [[_rfc3339(first), _rfc3339(last)]],
                "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
            },
        },
        "crs": list(SUPPORTED),
        "storageCrs": CRS84,
    }


def _rfc3339(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


@router.get(
    "/collections",
    response_model=Collections,
    responses=problem_responses(400, 429),
    summary="The collections: one, the active cabins",
)
def collections(request: Request, session: ReadSession, f: Format = None) -> Response:
    root = base(request)
    return json_response(
        request,
        {
            "links": [{"href": f"{root}/collections", "rel": "self", "type": JSON}],
            "collections": [collection_document(request, session)],
        },
    )


def check_collection(collection_id: str) -> None:
    if collection_id != COLLECTION:
        raise NotFound(
            f"No collection {collection_id!r}.",
            errors=[{"field": "collectionId", "reason": f"the only collection is '{COLLECTION}'"}],
        )


@router.get(
    "/collections/{collectionId}",
    response_model=Collection,
    responses=problem_responses(400, 404, 429),
    summary="The cabins collection, with its extent",
)
def collection(
    request: Request,
    session: ReadSession,
    collection_id: Annotated[str, Path(alias="collectionId")],
    f: Format = None,
) -> Response:
    check_collection(collection_id)
    return json_response(request, collection_document(request, session))


@router.get(
    "/collections/{collectionId}/queryables",
    response_model=Queryables,
    responses={
        **problem_responses(400, 404, 429),
        200: {"content": {SCHEMA_JSON: {}}, "description": "JSON Schema of the queryables"},
    },
    summary="The properties a filter may name (JSON Schema)",
)
def queryables(
    request: Request,
    collection_id: Annotated[str, Path(alias="collectionId")],
    f: Format = None,
) -> Response:
    check_collection(collection_id)
    here = f"{base(request)}/collections/{COLLECTION}/queryables"
    properties: dict[str, Any] = {
        "geometry": {
            "title": "Location",
            "format": "geometry-point",
            "x-ogc-role": "primary-geometry",
        }
    }
    for name, prop in QUERYABLES.items():
        properties[name] = {"title": name, **prop.schema}
    document = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": here,
        "type": "object",
        "title": "Teleconsultation cabins",
        "properties": properties,
        "additionalProperties": False,
    }
    return cached(request, orjson.dumps(document), SCHEMA_JSON)


@router.get(
    "/collections/{collectionId}/items",
    response_model=FeatureCollection,
    responses={**problem_responses(400, 404, 429), **GEOJSON_200},
    summary="Cabins, paged, with bbox, datetime, property filters and CQL2",
    description="Simple property filters: any queryable as `name=value` (equality)."
    " `datetime` applies to `updated_at`. `numberMatched` is given when it is known without"
    " counting the whole set (on the last page, unless `offset` is past the end).",
)
@own_query_names  # the queryables, answered in `simple_filters`
def items(
    request: Request,
    session: ReadSession,
    collection_id: Annotated[str, Path(alias="collectionId")],
    bbox: Annotated[str | None, Query(description="minx,miny,maxx,maxy in `bbox-crs`")] = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs")] = None,
    crs: Annotated[str | None, Query(description="CRS of the output geometries")] = None,
    limit: Annotated[
        int,
        # the maximum is published, not enforced: a larger limit is served as the largest page
        # (OGC API Features Part 1, /req/core/fc-limit-response-1 C: never an error)
        Query(ge=1, json_schema_extra={"maximum": MAX_LIMIT}),
    ] = 10,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    datetime_: Annotated[str | None, Query(alias="datetime")] = None,
    filter_: Annotated[str | None, Query(alias="filter", description="CQL2 filter")] = None,
    filter_lang: Annotated[
        str | None, Query(alias="filter-lang", description="cql2-text (default) or cql2-json")
    ] = None,
    filter_crs: Annotated[str | None, Query(alias="filter-crs")] = None,
    f: Format = None,
) -> Response:
    check_collection(collection_id)
    limit = min(limit, MAX_LIMIT)
    out_crs = parse_crs(crs, "crs")
    where: list[ColumnElement[bool]] = []
    if bbox is not None:
        box_crs = parse_crs(bbox_crs, "bbox-crs")
        where.append(queries.in_bbox(parse_bbox(bbox, box_crs), box_crs))
    elif bbox_crs is not None:
        parse_crs(bbox_crs, "bbox-crs")
    if datetime_ is not None:
        where.append(datetime_filter(datetime_))
    # filter-crs is checked without a filter too, as bbox-crs is without a bbox
    srid = parse_crs(filter_crs, "filter-crs").srid
    if filter_ is not None:
        parsed = parse_filter(filter_, filter_lang, srid)
        problem = queries.geometry_problem(session, parsed.geometries)
        if problem is not None:
            raise invalid_geometry(problem)
        where.append(parsed.where)
    elif filter_lang is not None and filter_lang not in ("cql2-text", "cql2-json"):
        raise invalid_parameter("filter-lang", "must be cql2-text or cql2-json")
    where += simple_filters(request)

    page = queries.items_page(session, where, limit, offset, out_crs)
    links = item_links(request, limit, offset, page.has_more)
    head = {
        "type": "FeatureCollection",
        "numberReturned": page.returned,
        "timeStamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "links": links,
    }
    if not page.has_more and (page.returned or not offset):
        # The last page: everything before it matched too. (An offset past the end says
        # only that fewer matched; the count is then left out rather than counted.)
        head["numberMatched"] = offset + page.returned
    head_bytes = orjson.dumps(head)
    body = head_bytes[:-1] + b',"features":' + page.features + b"}"
    crs_header = {"Content-Crs": f"<{out_crs.uri}>"}
    # The time stamp changes every second: the ETag covers the features and links only.
    etag_body = page.features + orjson.dumps(links)
    return cached(request, body, GEOJSON, crs_header, etag=etag_of(etag_body, out_crs.uri))


def simple_filters(request: Request) -> list[ColumnElement[bool]]:
    """`name=value` for each queryable named in the query; any other unknown parameter is a 400
    (OGC API Features Part 1, /req/core/query-param-unknown)."""
    conditions: list[ColumnElement[bool]] = []
    for name, value in request.query_params.multi_items():
        if name in ITEMS_PARAMETERS:
            continue
        prop = QUERYABLES.get(name)
        if name == GEOMETRY:  # a queryable, but of no `name=value` form
            raise invalid_parameter(
                name,
                "the location is filtered with bbox or a CQL2 spatial filter, such as"
                " filter=S_INTERSECTS(geometry, BBOX(2.2,48.8,2.5,48.9))",
            )
        if prop is None:
            raise invalid_parameter(
                name,
                "unknown parameter (see the queryables for property filters)",
            )
        if prop.schema.get("format") == "date-time":
            conditions.append(instant_filter(prop.expr(), value, name))
        else:
            conditions.append(prop.expr() == typed(name, value, prop.schema))
    return conditions


def typed(name: str, value: str, schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "boolean":
        if value.lower() not in ("true", "false"):
            raise invalid_parameter(name, "true or false")
        return value.lower() == "true"
    if kind == "number":
        try:
            number = float(value)
        except ValueError:
            raise invalid_parameter(name, "a number") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise invalid_parameter(name, "a finite number")
        return number
    return value


def item_links(request: Request, limit: int, offset: int, has_more: bool) -> list[dict[str, str]]:
    here = f"{base(request)}/collections/{COLLECTION}/items"
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("offset", "limit")]

    def at(new_offset: int) -> str:
        return here + "?" + urlencode([*params, ("limit", str(limit)), ("offset", str(new_offset))])

    links = [
        {"href": at(offset), "rel": "self", "type": GEOJSON},
        {"href": f"{base(request)}/collections/{COLLECTION}", "rel": "collection", "type": JSON},
    ]
    if has_more:
        links.append({"href": at(offset + limit), "rel": "next", "type": GEOJSON})
    if offset > 0:
        links.append({"href": at(max(0, offset - limit)), "rel": "prev", "type": GEOJSON})
    return links


@router.get(
    "/collections/{collectionId}/items/{featureId}",
    response_model=Feature,
    responses={**problem_responses(400, 404, 429), **GEOJSON_FEATURE_200},
    summary="One cabin by its public reference",
)
def feature(
    request: Request,
    session: ReadSession,
    collection_id: Annotated[str, Path(alias="collectionId")],
    feature_id: Annotated[str, Path(alias="featureId")],
    crs: Annotated[str | None, Query(description="CRS of the output geometry")] = None,
    f: Format = None,
) -> Response:
    check_collection(collection_id)
    out_crs = parse_crs(crs, "crs")
    # A public reference is at most 32 characters of text: a longer id, or one holding a NUL
    # (which PostgreSQL refuses, a 500), is no feature either (404, as OGC API Features
    # answers any id it does not hold), and is not worth a query.
    held = len(feature_id) <= 32 and "\x00" not in feature_id
    found = queries.item(session, feature_id, out_crs) if held else None
    if found is None:
        raise NotFound(
            f"No public cabin {feature_id!r}.",
            errors=[{"field": "featureId", "reason": "no active cabin with this reference"}],
        )
    here = f"{base(request)}/collections/{COLLECTION}"
    links = [
        {"href": f"{here}/items/{feature_id}", "rel": "self", "type": GEOJSON},
        {"href": here, "rel": "collection", "type": JSON},
    ]
    body = found[:-1] + b',"links":' + orjson.dumps(links) + b"}"
    return cached(request, body, GEOJSON, {"Content-Crs": f"<{out_crs.uri}>"})
