"""OGC API Features under /ogc: landing page, conformance, the collection and its extent,
items with bbox / paging links / datetime / property filters / CQL2 text and JSON, CRS
(CRS84, Lambert-93 and the overseas UTM zones, Content-Crs), queryables, and the 400s."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from service.public.cql2 import parse_filter
from service.public.properties import QUERYABLES, Property
from tests.public.factories import PARIS, make_cabin, make_operator, moved

ITEMS = "/ogc/collections/cabins/items"
BOX = "2.30,48.83,2.40,48.88"


@pytest.fixture
def cabins(db: Session) -> list:
    op = make_operator(db)
    made = [
        make_cabin(db, op, moved(PARIS, 100 * i), accessibility={"hearing_loop": i % 2 == 0})
        for i in range(5)
    ]
    made[0].venue_kind = "msp"
    made[1].updated_at = datetime(2025, 1, 1, tzinfo=UTC)
    db.flush()
    return made


def refs(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    return sorted(f["id"] for f in response.json()["features"])


def test_landing_conformance_and_collections(client: TestClient, cabins: list) -> None:
    landing = client.get("/ogc").json()
    rels = {link["rel"] for link in landing["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= rels
    classes = client.get("/ogc/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in classes
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in classes
    assert "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter" in classes
    assert "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json" in classes
    # nothing claimed that is not implemented
    assert not [c for c in classes if "temporal" in c or "html" in c or "arithmetic" in c]
    collections = client.get("/ogc/collections").json()["collections"]
    assert [c["id"] for c in collections] == ["cabins"]
    collection = client.get("/ogc/collections/cabins").json()
    minx, miny, maxx, maxy = collection["extent"]["spatial"]["bbox"][0]
    assert minx <= PARIS[0] <= maxx and miny <= PARIS[1] <= maxy
    assert "http://www.opengis.net/def/crs/EPSG/0/2154" in collection["crs"]
    assert client.get("/ogc/collections/nope").status_code == 404


def test_the_api_definition_link_says_the_openapi_version_it_serves(client: TestClient) -> None:
    """The definition is OpenAPI 3.1: the landing page does not call it 3.0, and the
    conformance does not claim the OpenAPI 3.0 class."""
    (link,) = [x for x in client.get("/ogc").json()["links"] if x["rel"] == "service-desc"]
    served = client.get(link["href"].replace("http://testserver", ""))
    document = served.json()
    major_minor = ".".join(document["openapi"].split(".")[:2])
    assert link["type"] == f"application/vnd.oai.openapi+json;version={major_minor}"
    assert served.headers["content-type"] == link["type"]  # served as announced
    classes = client.get("/ogc/conformance").json()["conformsTo"]
    assert major_minor == "3.0" or not [c for c in classes if c.endswith("/conf/oas30")]


def test_items_page_with_next_and_prev_links(client: TestClient, cabins: list) -> None:
    first = client.get(ITEMS, params={"bbox": BOX, "limit": 2})
    body = first.json()
    assert body["numberReturned"] == 2
    assert "numberMatched" not in body  # not counted while pages remain
    links = {link["rel"]: link["href"] for link in body["links"]}
    assert "prev" not in links
    seen = [f["id"] for f in body["features"]]
    while "next" in links:
        page = client.get(links["next"].replace("http://testserver", "")).json()
        seen += [f["id"] for f in page["features"]]
        links = {link["rel"]: link["href"] for link in page["links"]}
        assert "prev" in links
    assert sorted(seen) == sorted(c.reference for c in cabins)
    assert page["numberMatched"] == 5  # known on the last page without a count
    past = client.get(ITEMS, params={"bbox": BOX, "limit": 2, "offset": 40}).json()
    assert past["numberReturned"] == 0
    assert "numberMatched" not in past  # fewer than 40 matched: not how many


def test_a_limit_over_the_largest_page_is_served_as_the_largest_page(
    client: TestClient, cabins: list
) -> None:
    """OGC API Features Part 1 (/req/core/fc-limit-response-1 C): a limit larger than the
    maximum the definition publishes is no error; GDAL's `-oo PAGE_SIZE=5000` was a 400 that
    stopped ogr2ogr."""
    response = client.get(ITEMS, params={"bbox": BOX, "limit": 5000})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["numberReturned"] == body["numberMatched"] == len(cabins)
    (own,) = [link["href"] for link in body["links"] if link["rel"] == "self"]
    assert "limit=1000&" in own  # the links say the page size served
    definition = client.get("/openapi.json").json()
    (limit,) = [
        p
        for p in definition["paths"]["/ogc/collections/{collectionId}/items"]["get"]["parameters"]
        if p["name"] == "limit"
    ]
    assert limit["schema"]["maximum"] == 1000  # published for the clients that read it


def test_property_filter_datetime_and_single_item(client: TestClient, cabins: list) -> None:
    assert refs(client.get(ITEMS, params={"bbox": BOX, "venue_kind": "msp"})) == [
        cabins[0].reference
    ]
    assert refs(client.get(ITEMS, params={"bbox": BOX, "hearing_loop": "false"})) == sorted(
        [cabins[1].reference, cabins[3].reference]
    )
    old = client.get(ITEMS, params={"bbox": BOX, "datetime": "../2025-06-01T00:00:00Z"})
    assert refs(old) == [cabins[1].reference]
    item = client.get(f"{ITEMS}/{cabins[2].reference}")
    assert item.headers["content-type"] == "application/geo+json"
    assert item.json()["id"] == cabins[2].reference
    assert {link["rel"] for link in item.json()["links"]} == {"self", "collection"}


@pytest.mark.parametrize(
    "feature_id", ["CAB-NOSUCH00", "f" * 33, str(uuid.UUID(int=0)), "CAB-%00", "CAB-%E9"]
)
def test_an_id_the_collection_does_not_hold_is_a_404(client: TestClient, feature_id: str) -> None:
    """Whatever its length: an OGC client reads 404 as 'no such feature'."""
    response = client.get(f"{ITEMS}/{feature_id}")
    assert response.status_code == 404
    assert response.json()["errors"][0]["field"] == "featureId"


def test_cql2_text_and_json_filters(client: TestClient, cabins: list) -> None:
    text_filter = "hearing_loop = true AND S_INTERSECTS(geometry, BBOX(2.30, 48.83, 2.40, 48.88))"
    expected = sorted(c.reference for c in cabins[0::2])
    assert refs(client.get(ITEMS, params={"filter": text_filter})) == expected
    json_filter = {
        "op": "and",
        "args": [
            {"op": "=", "args": [{"property": "hearing_loop"}, True]},
            {
                "op": "s_intersects",
                "args": [{"property": "geometry"}, {"bbox": [2.30, 48.83, 2.40, 48.88]}],
            },
        ],
    }
    response = client.get(
        ITEMS, params={"filter": json.dumps(json_filter), "filter-lang": "cql2-json"}
    )
    assert refs(response) == expected
    like = client.get(
        ITEMS, params={"bbox": BOX, "filter": "venue_kind LIKE 'ms%' OR venue_kind IN ('xyz')"}
    )
    assert refs(like) == [cabins[0].reference]


def projected(db: Session, lon: float, lat: float, srid: int = 2154) -> tuple[float, float]:
    row = db.execute(
        text(
            "SELECT ST_X(p), ST_Y(p)"
            " FROM ST_Transform(ST_SetSRID(ST_MakePoint(:x, :y), 4326), :srid) p"
        ),
        {"x": lon, "y": lat, "srid": srid},
    ).one()
    return float(row[0]), float(row[1])


def test_crs_and_bbox_crs_in_lambert_93(client: TestClient, db: Session, cabins: list) -> None:
    x0, y0 = projected(db, 2.30, 48.83)
    x1, y1 = projected(db, 2.40, 48.88)
    response = client.get(
        ITEMS,
        params={
            "bbox": f"{x0},{y0},{x1},{y1}",
            "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/2154",
            "crs": "http://www.opengis.net/def/crs/EPSG/0/2154",
        },
    )
    assert response.headers["content-crs"] == "<http://www.opengis.net/def/crs/EPSG/0/2154>"
    assert refs(response) == sorted(c.reference for c in cabins)
    feature = next(f for f in response.json()["features"] if f["id"] == cabins[0].reference)
    x, y = feature["geometry"]["coordinates"]
    ex, ey = projected(db, *moved(PARIS, 0))
    assert abs(x - ex) < 0.05 and abs(y - ey) < 0.05
    default = client.get(ITEMS, params={"limit": 1})
    assert default.headers["content-crs"] == "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"


@pytest.mark.parametrize(
    ("at", "insee", "srid"),
    [
        ((-61.5336, 16.2411), "97120", 5490),  # Pointe-à-Pitre
        ((-61.0733, 14.6073), "97209", 5490),  # Fort-de-France
        ((-52.3264, 4.9372), "97302", 2972),  # Cayenne
        ((55.4504, -20.8823), "97411", 2975),  # Saint-Denis
        ((45.2279, -12.7806), "97611", 4471),  # Mamoudzou
    ],
)
def test_an_overseas_cabin_in_its_own_utm_zone(
    client: TestClient, db: Session, at: tuple[float, float], insee: str, srid: int
) -> None:
    cabin = make_cabin(db, make_operator(db), at, insee=insee)
    db.flush()
    uri = f"http://www.opengis.net/def/crs/EPSG/0/{srid}"
    assert uri in client.get("/ogc/collections/cabins").json()["crs"]
    x, y = projected(db, *at, srid=srid)
    response = client.get(
        ITEMS,
        params={
            "bbox": f"{x - 50},{y - 50},{x + 50},{y + 50}",
            "bbox-crs": uri,
            "crs": f"EPSG:{srid}",
        },
    )
    assert response.headers["content-crs"] == f"<{uri}>"
    assert refs(response) == [cabin.reference]
    fx, fy = response.json()["features"][0]["geometry"]["coordinates"]
    assert abs(fx - x) < 0.05 and abs(fy - y) < 0.05
    one = client.get(f"/ogc/collections/cabins/items/{cabin.reference}", params={"crs": uri})
    assert one.json()["geometry"]["coordinates"] == [fx, fy]


def test_queryables_is_a_json_schema(client: TestClient) -> None:
    response = client.get("/ogc/collections/cabins/queryables")
    assert response.headers["content-type"] == "application/schema+json"
    schema = response.json()
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert schema["type"] == "object"
    assert schema["properties"]["hearing_loop"]["type"] == "boolean"
    assert schema["properties"]["geometry"]["format"] == "geometry-point"
    assert "operator_reference" not in schema["properties"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"filter": "operator_reference = 'x'"}, "filter"),
        ({"filter": "venue_kind = = 'msp'"}, "filter"),
        ({"filter": "{not json", "filter-lang": "cql2-json"}, "filter"),
        ({"filter": "hearing_loop = 'yes'"}, "filter"),
        ({"filter": "commune_insee = 75056"}, "filter"),
        ({"filter": "venue_kind = 'msp'", "filter-lang": "ecql"}, "filter-lang"),
        ({"bbox": "2.3,48.9,2.4,48.8"}, "bbox"),
        ({"bbox": "700000,6900000,600000,6950000", "bbox-crs": "EPSG:2154"}, "bbox"),
        ({"bbox": "2.3,48.8"}, "bbox"),
        ({"crs": "EPSG:3857"}, "crs"),
        ({"bbox": BOX, "bbox-crs": "EPSG:9999"}, "bbox-crs"),
        ({"bbox-crs": "EPSG:9999"}, "bbox-crs"),
        ({"filter-crs": "EPSG:9999"}, "filter-crs"),  # ignored without a filter
        ({"datetime": "yesterday"}, "datetime"),
        ({"limit": 0}, "limit"),
        ({"colour": "blue"}, "colour"),
        ({"geometry": "POINT(2.35 48.85)"}, "geometry"),
        ({"hearing_loop": "maybe"}, "hearing_loop"),
    ],
)
def test_bad_items_parameters_are_400_naming_the_parameter(
    client: TestClient, params: dict, field: str
) -> None:
    response = client.get(ITEMS, params=params)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == field


REUNION = (55.4504, -20.8823)  # Saint-Denis
MAYOTTE = (45.2279, -12.7806)  # Mamoudzou


def test_a_bbox_across_the_antimeridian_is_its_two_sides(client: TestClient, db: Session) -> None:
    """OGC and CQL2: a west edge east of the east edge crosses the antimeridian. From 50°E
    round to 170°W holds Réunion, not Mayotte (45°E); swapping the edges would give the
    opposite (a 400 for the bbox parameter, Mayotte and not Réunion for a CQL2 BBOX)."""
    op = make_operator(db)
    reunion = make_cabin(db, op, REUNION, insee="97411")
    make_cabin(db, op, MAYOTTE, insee="97611")
    across = [50, -30, -170, 0]
    assert refs(client.get(ITEMS, params={"bbox": ",".join(map(str, across))})) == [
        reunion.reference
    ]
    text_filter = "S_INTERSECTS(geometry, BBOX(50, -30, -170, 0))"
    assert refs(client.get(ITEMS, params={"filter": text_filter})) == [reunion.reference]
    json_filter = {"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": across}]}
    response = client.get(
        ITEMS, params={"filter": json.dumps(json_filter), "filter-lang": "cql2-json"}
    )
    assert refs(response) == [reunion.reference]


def test_a_cql2_json_bbox_reads_minx_miny_maxx_maxy(client: TestClient, db: Session) -> None:
    """[2.30, 48.83, 2.40, 48.88] is a window on Paris, not the box 2.30°E..48.83°E by
    2.40°N..48.88°N that holds a cabin in Lorraine."""
    op = make_operator(db)
    paris = make_cabin(db, op, PARIS)
    make_cabin(db, op, (6.18, 48.69), insee="54395")  # Nancy, same latitude band
    json_filter = {
        "op": "s_intersects",
        "args": [{"property": "geometry"}, {"bbox": [2.30, 48.83, 2.40, 48.88]}],
    }
    response = client.get(
        ITEMS, params={"filter": json.dumps(json_filter), "filter-lang": "cql2-json"}
    )
    assert refs(response) == [paris.reference]


def test_a_quote_in_a_cql2_text_string_is_doubled_or_backslashed(
    client: TestClient, db: Session
) -> None:
    """CQL2 escapes a quote in a string as '' or \\' (what GDAL sends for a -where): French
    streets and venues are full of them."""
    op = make_operator(db)
    church = make_cabin(db, op, PARIS, address_street="place de l'Église")
    make_cabin(db, op, PARIS, address_street="rue de Rivoli")
    for literal in ("'place de l''Église'", "'place de l\\'Église'"):
        response = client.get(ITEMS, params={"filter": f"address_street = {literal}"})
        assert refs(response) == [church.reference], literal
    like = client.get(ITEMS, params={"filter": "address_street LIKE '%l''Égl%'"})
    assert refs(like) == [church.reference]


def test_cql2_json_between_takes_the_property_then_low_then_high(
    client: TestClient, cabins: list
) -> None:
    """CQL2 JSON writes BETWEEN as [property, low, high] (pygeofilter wanted [low, high])."""
    json_filter = {"op": "between", "args": [{"property": "base_fee_eur"}, 20, 40]}
    response = client.get(
        ITEMS, params={"bbox": BOX, "filter": json.dumps(json_filter), "filter-lang": "cql2-json"}
    )
    assert refs(response) == sorted(c.reference for c in cabins)  # 30 € each


def test_a_datetime_given_as_a_date_is_that_whole_day(client: TestClient, db: Session) -> None:
    op = make_operator(db)
    day = make_cabin(db, op, PARIS, updated_at=datetime(2025, 3, 14, 15, 9, 26, tzinfo=UTC))
    make_cabin(db, op, PARIS, updated_at=datetime(2025, 3, 15, 0, 0, 0, tzinfo=UTC))
    make_cabin(db, op, PARIS, updated_at=datetime(2025, 3, 13, 23, 59, 59, tzinfo=UTC))
    assert refs(client.get(ITEMS, params={"datetime": "2025-03-14"})) == [day.reference]
    until = client.get(ITEMS, params={"datetime": "2025-03-01/2025-03-14"})
    assert day.reference in refs(until) and len(refs(until)) == 2
    exact = client.get(ITEMS, params={"datetime": "2025-03-14T15:09:26Z"})
    assert refs(exact) == [day.reference]  # a date-time stays one instant
    lower = client.get(ITEMS, params={"datetime": "2025-03-14t15:09:26z"})
    assert refs(lower) == [day.reference]  # RFC 3339 allows t and z
    basic = client.get(ITEMS, params={"datetime": "20250314"})  # ISO 8601's basic form
    assert refs(basic) == [day.reference]  # the day too, not the instant of midnight
    minute = client.get(ITEMS, params={"datetime": "2025-03-14T15:09Z"})
    assert refs(minute) == [day.reference]  # a date-time covers its last written digit
    bad = client.get(ITEMS, params={"datetime": "2025-03-14T15:09:26 01:00"})  # + lost in a URL
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "datetime"
    assert "%2B" in bad.json()["errors"][0]["reason"]
    as_property = client.get(ITEMS, params={"updated_at": "2025-03-14"})  # the same reading
    assert refs(as_property) == [day.reference]


@pytest.mark.parametrize(
    ("cql2", "expected"),
    [
        ("updated_at = DATE('2025-03-14')", ["day"]),
        ("updated_at <> DATE('2025-03-14')", ["before", "after"]),
        ("updated_at < DATE('2025-03-14')", ["before"]),
        ("updated_at <= DATE('2025-03-14')", ["before", "day"]),
        ("updated_at > DATE('2025-03-14')", ["after"]),
        ("updated_at >= DATE('2025-03-14')", ["day", "after"]),
        ("updated_at BETWEEN DATE('2025-03-14') AND DATE('2025-03-14')", ["day"]),
        ("updated_at IN (DATE('2025-03-14'), DATE('2025-03-20'))", ["day"]),
        ("updated_at = TIMESTAMP('2025-03-14T15:09:26Z')", ["day"]),
        ("updated_at <= TIMESTAMP('2025-03-14T15:09:26Z')", ["before", "day"]),
        # CQL2's own text for the temporal operators, as cql2-json takes them (it was refused:
        # 'the filter ends before the expression is complete')
        ("T_AFTER(updated_at, DATE('2025-03-14'))", ["after"]),
        ("t_before(updated_at, DATE('2025-03-14'))", ["before"]),
        ("T_INTERSECTS(updated_at, DATE('2025-03-14'))", ["day"]),
        ("T_DURING(updated_at, INTERVAL('2025-03-14', '..'))", ["day", "after"]),
        ("T_DURING(updated_at, INTERVAL('..', '2025-03-14T15:09:26Z'))", ["before", "day"]),
        (
            "T_INTERSECTS(updated_at, INTERVAL(TIMESTAMP('2025-03-14T10:00:00Z'),"
            " DATE('2025-03-14')))",
            ["day"],
        ),
        ("updated_at T_DURING INTERVAL('2025-03-14T00:00:00Z', '2025-03-14T23:59:59Z')", ["day"]),
        ({"op": "=", "args": [{"property": "updated_at"}, {"date": "2025-03-14"}]}, ["day"]),
        (
            {
                "op": "t_during",
                "args": [
                    {"property": "updated_at"},
                    {"interval": ["2025-03-01", "2025-03-14T15:09:26Z"]},
                ],
            },
            ["before", "day"],
        ),
        (  # from 10:00 to the end of that same day: not empty, as datetime=…T10:00Z/2025-03-14
            {
                "op": "t_during",
                "args": [
                    {"property": "updated_at"},
                    {"interval": ["2025-03-14T10:00:00Z", "2025-03-14"]},
                ],
            },
            ["day"],
        ),
    ],
)
def test_a_cql2_date_is_its_whole_day(
    client: TestClient, db: Session, cql2: str | dict, expected: list[str]
) -> None:
    """`updated_at = DATE('2025-03-14')` compared with midnight and found nothing."""
    op = make_operator(db)
    made = {
        name: make_cabin(db, op, PARIS, updated_at=at).reference
        for name, at in (
            ("before", datetime(2025, 3, 13, 23, 59, 59, tzinfo=UTC)),
            ("day", datetime(2025, 3, 14, 15, 9, 26, tzinfo=UTC)),
            ("after", datetime(2025, 3, 15, 0, 0, 0, tzinfo=UTC)),
        )
    }
    params = (
        {"filter": cql2}
        if isinstance(cql2, str)
        else {"filter": json.dumps(cql2), "filter-lang": "cql2-json"}
    )
    assert refs(client.get(ITEMS, params=params)) == sorted(made[name] for name in expected)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"venue_name": "Pharmacie\x00"}, "venue_name"),
        ({"filter": "venue_name = 'Pharmacie\x00'"}, "filter"),
        ({"filter": "venue_name LIKE '%\x00%'"}, "filter"),
    ],
)
def test_a_nul_character_in_a_value_is_a_400(client: TestClient, params: dict, field: str) -> None:
    """PostgreSQL text holds no NUL: it was the database's error, a 500."""
    response = client.get(ITEMS, params=params)
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["field"] == field and "NUL" in error["reason"]


def test_an_items_parameter_given_twice_is_a_400_naming_it(client: TestClient) -> None:
    """As on /v1 and /public: one of two bboxes silently won, and two values of one property
    filter silently matched nothing."""
    for query in ("bbox=2,48,3,49&bbox=4,44,5,45", "commune_insee=75056&commune_insee=69123"):
        response = client.get(f"{ITEMS}?{query}")
        assert response.status_code == 400, query
        (error,) = response.json()["errors"]
        assert error["field"] == query.split("=")[0] and "given 2 times" in error["reason"]


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        (
            {"filter": "S_INTERSECTS(geometry, POLYGON((2 48, 3 48, 2 49)))"},
            "ring must be closed",
        ),
        (
            {"filter": "S_INTERSECTS(geometry, BBOX(2, 49, 3, 48))"},
            "must not exceed maxy (the north edge)",
        ),
        ({"filter": "S_INTERSECTS(geometry, BBOX(2, 48, 200, 49))"}, "longitudes"),
        (
            {
                "filter": '{"op": "=", "args": [{"property": "venue_kind"}]}',
                "filter-lang": "cql2-json",
            },
            "the operator '=' takes 2 arguments, not 1",
        ),
        ({"filter": "[1, 2]", "filter-lang": "cql2-json"}, "a cql2-json filter is a JSON object"),
        (
            {
                "filter": '{"op": "s_intersects", "args": [{"property": "geometry"},'
                ' {"bbox": [2, 48, 3]}]}',
                "filter-lang": "cql2-json",
            },
            "a bbox is a list of 4 numbers",
        ),
        ({"filter": "venue_kind = "}, "ends before the expression is complete"),
        ({"filter": "venue_kind == 'msp'"}, "unexpected '=' at column 13"),
        ({"filter": "-cabin_door_clear_width_cm > 3"}, "an expression this service does not"),
        (
            {
                "filter": '{"op": "s_intersects", "args": [{"property": "geometry"},'
                ' {"type": "Point", "coordinates": "x"}]}',
                "filter-lang": "cql2-json",
            },
            "positions are 2 or 3 finite numbers",
        ),
        (
            {
                "filter": '{"op": "in", "args": [{"property": "venue_kind"}, "msp"]}',
                "filter-lang": "cql2-json",
            },
            "takes a property and a list of values",
        ),
        ({"filter": "[" * 5000 + "]" * 5000, "filter-lang": "cql2-json"}, "nests too deeply"),
        ({"filter": " AND ".join(["hearing_loop = true"] * 1500)}, "nests too deeply"),
        (
            {
                "filter": '{"op": "not", "args": [' * 1200 + "true" + "]}" * 1200,
                "filter-lang": "cql2-json",
            },
            "nests too deeply",
        ),
    ],
)
def test_a_filter_refused_says_why_in_words(client: TestClient, params: dict, reason: str) -> None:
    """Never the parser's internals (`Equal.__init__() missing…`, `Token('$END', '')`), and
    never a geometry PostGIS would silently reshape."""
    response = client.get(ITEMS, params=params)
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["field"] == "filter"
    assert reason in error["reason"], error["reason"]
    for internals in ("Token(", "__init__", "operand type", "Attribute"):
        assert internals not in error["reason"], error["reason"]


def as_json_filter(cql2: dict) -> dict:
    return {"filter": json.dumps(cql2), "filter-lang": "cql2-json"}


def updated_at_before(instant: dict | str) -> dict:
    return {"op": "<", "args": [{"property": "updated_at"}, instant]}


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        # dateparser read month 13 as the day: 13 January
        ({"filter": "updated_at < TIMESTAMP('2025-13-01T00:00:00Z')"}, "is not a timestamp"),
        (as_json_filter(updated_at_before({"timestamp": "2025-13-01T00:00:00Z"})), "timestamp"),
        # and words of a language, relative to the server's clock
        (as_json_filter(updated_at_before({"timestamp": "yesterday"})), "is not a timestamp"),
        (as_json_filter(updated_at_before({"timestamp": "now"})), "is not a timestamp"),
        (as_json_filter(updated_at_before({"timestamp": "01/02/2026"})), "is not a timestamp"),
        (as_json_filter(updated_at_before({"timestamp": 5})), "is not a timestamp"),
        ({"filter": "updated_at < DATE('2026-02-30')"}, "'2026-02-30' is not a date"),
        (as_json_filter(updated_at_before({"date": "2026-02-30"})), "'2026-02-30' is not a date"),
        (as_json_filter(updated_at_before({"date": None})), "is not a date"),
        # Python's ISO reading took a week as its Monday and the compact forms: RFC 3339 has
        # neither, nor a date-time without its offset or its seconds
        ({"filter": "updated_at < TIMESTAMP('20261123T080000Z')"}, "is not a timestamp"),
        ({"filter": "updated_at < TIMESTAMP('2026-11-23T08:00:00')"}, "with its offset"),
        ({"filter": "updated_at < DATE('20261123')"}, "YYYY-MM-DD"),
        (as_json_filter(updated_at_before({"timestamp": "2026-W48T08:00:00Z"})), "a week"),
        # cql2-text's grammar took only what looked like a date: "unexpected '2026'"
        ({"filter": "updated_at < TIMESTAMP('2026-W48T08:00:00Z')"}, "a week"),
        ({"filter": "updated_at < DATE('2026-W48')"}, "a week"),
        ({"filter": "updated_at T_DURING INTERVAL('2026-W48', '..')"}, "a week"),
        ({"filter": "updated_at < DATE('it''s')"}, "is not a date"),
        (as_json_filter(updated_at_before({"timestamp": "2026-11-23T08:00Z"})), "timestamp"),
        (as_json_filter(updated_at_before({"date": "20261123"})), "is not a date"),
        (
            as_json_filter(
                {
                    "op": "t_intersects",
                    "args": [
                        {"property": "updated_at"},
                        {"interval": ["2026-W48T08:00:00Z", ".."]},
                    ],
                }
            ),
            "a week",
        ),
    ],
)
def test_a_cql2_timestamp_or_date_is_rfc_3339_or_refused(
    client: TestClient, cabins: list, params: dict, reason: str
) -> None:
    """CQL2 literals are RFC 3339: '2025-13-01T00:00:00Z' is no date, where it was read as
    13 January 2025 (and found the cabin updated on 1 January), and 'yesterday' as a day
    before the server's clock."""
    response = client.get(ITEMS, params={"bbox": BOX, **params})
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["field"] == "filter"
    assert reason in error["reason"], error["reason"]
    assert "RFC 3339" in error["reason"] or "2026-11-23" in error["reason"]


def test_a_cql2_timestamp_with_an_offset_or_nanoseconds_is_its_instant(
    client: TestClient, cabins: list
) -> None:
    """Read by Python's ISO reader, not dateparser: an offset is honoured, digits past the
    microsecond are PostgreSQL's resolution."""
    old = [cabins[1].reference]  # updated 2025-01-01T00:00:00Z
    for stamp in ("2025-01-01T01:00:00.000000001+01:00", "2025-01-01T00:00:00.0000001Z"):
        response = client.get(
            ITEMS, params={"bbox": BOX, "filter": f"updated_at <= TIMESTAMP('{stamp}')"}
        )
        assert refs(response) == old, stamp
        json_response = client.get(
            ITEMS,
            params={
                "bbox": BOX,
                **as_json_filter(
                    {"op": "<=", "args": [{"property": "updated_at"}, {"timestamp": stamp}]}
                ),
            },
        )
        assert refs(json_response) == old, stamp


@pytest.mark.parametrize(
    "interval", [["..", "2025-06-01"], ["..", "2025-06-01T00:00:00Z"], ["2025-06-01", ".."]]
)
def test_a_cql2_json_interval_may_have_one_open_end(
    client: TestClient, cabins: list, interval: list[str]
) -> None:
    """'..' is an open end, as in the `datetime` parameter: it was refused as no date."""
    response = client.get(
        ITEMS,
        params={
            "bbox": BOX,
            **as_json_filter(
                {"op": "t_intersects", "args": [{"property": "updated_at"}, {"interval": interval}]}
            ),
        },
    )
    old = [cabins[1].reference]
    expected = old if interval[0] == ".." else sorted({c.reference for c in cabins} - set(old))
    assert refs(response) == expected


@pytest.mark.parametrize(
    ("cql2", "reason"),
    [
        # pygeofilter's own words were Python's: 'arguments', string indices must be integers
        ({"function": {"name": "bbox", "args": [1, 2, 3, 4]}}, "functions are not evaluated"),
        (
            {"op": "s_intersects", "args": [{"property": "geometry"}, {"function": "bbox"}]},
            "functions are not evaluated",
        ),
        # Invalid type <class 'NoneType'>
        ({"op": "=", "args": [{"property": "wheelchair"}, None]}, "test a property with isNull"),
        # unhashable type: 'list'
        ({"op": ["="], "args": [{"property": "venue_kind"}, "msp"]}, 'an "op" is the name'),
        ({"op": "=", "args": [{"property": 5}, "msp"]}, "a property is named by a string"),
        ({"op": "=", "args": [{"property": "venue_kind"}, {"weird": 1}]}, 'an operation {"op"'),
        ({}, 'an operation {"op", "args"}'),
        (
            {"op": "t_intersects", "args": [{"property": "updated_at"}, {"interval": ["x", 5]}]},
            "is not a date",
        ),
        (
            {"op": "t_intersects", "args": [{"property": "updated_at"}, {"interval": [".."]}]},
            "a list of 2 ends",
        ),
        (
            {
                "op": "t_intersects",
                "args": [{"property": "updated_at"}, {"interval": ["..", ".."]}],
            },
            "'..' for one open",
        ),
        # pygeofilter's cql2-json writer makes a TIMESTAMP a plain string
        (
            {"op": ">", "args": [{"property": "updated_at"}, "2026-01-01T00:00:00+00:00"]},
            '{"timestamp": "…"}',
        ),
        # CASEI is no conformance class claimed: it read 'the left side of a comparison must be
        # a queryable property'
        (
            {"op": "like", "args": [{"op": "casei", "args": [{"property": "venue_name"}]}, "x"]},
            "a function (CASEI, ACCENTI, …) is not evaluated here",
        ),
        # 'unknown property', though the queryables list it
        (
            {"op": "isNull", "args": [{"property": "geometry"}]},
            "'geometry' is filtered with the spatial operators",
        ),
        # ATTRIBUTE venue_access_fee_eur, Add(lhs=1, rhs=2)
        (
            {
                "op": "=",
                "args": [{"property": "base_fee_eur"}, {"property": "venue_access_fee_eur"}],
            },
            "not with another property ('venue_access_fee_eur')",
        ),
        (
            {"op": "<", "args": [{"property": "base_fee_eur"}, {"op": "+", "args": [1, 2]}]},
            "not with an expression",
        ),
        # 'updated_at' is compared with a date-time, not Interval(start=datetime.date(…), …)
        (
            {
                "op": "<",
                "args": [{"property": "updated_at"}, {"interval": ["2026-01-01", "2026-02-01"]}],
            },
            "not an interval: test an interval with T_DURING",
        ),
    ],
)
def test_a_cql2_json_filter_refused_says_why_in_words(
    client: TestClient, cql2: dict, reason: str
) -> None:
    response = client.get(ITEMS, params=as_json_filter(cql2))
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["field"] == "filter"
    assert reason in error["reason"], error["reason"]
    python_words = (
        "'arguments'",
        "unhashable",
        "Invalid type",
        "ATTRIBUTE",
        "lhs=",
        "indices",
        "(start=",
    )
    for words in python_words:
        assert words not in error["reason"], error["reason"]


@pytest.mark.parametrize(
    "params",
    [
        {"filter": "base_fee_eur < 1e400"},
        {"filter": '{"op": "<", "args": [{"property": "base_fee_eur"}, 1e400]}'},
        {"filter": '{"op": "<", "args": [{"property": "base_fee_eur"}, Infinity]}'},
        {"filter": '{"op": "=", "args": [{"property": "base_fee_eur"}, NaN]}'},
    ],
)
def test_a_number_in_a_filter_is_finite(client: TestClient, params: dict) -> None:
    """1e400 was read as infinity and compared, Python's JSON reader taking NaN and Infinity
    too: a value past a limit says the limit, as the rest of the registry does."""
    if params["filter"].startswith("{"):
        params = {**params, "filter-lang": "cql2-json"}
    response = client.get(ITEMS, params=params)
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["field"] == "filter" and "finite" in error["reason"], error["reason"]


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("/ogc", "foo=1", "foo"),
        ("/ogc/conformance", "f=json&foo=1", "foo"),
        ("/ogc/collections", "limit=5", "limit"),
        ("/ogc/collections/cabins", "bbox=2,48,3,49", "bbox"),
        ("/ogc/collections/cabins/queryables", "profile=x", "profile"),
        (f"{ITEMS}/{{ref}}", "properties=reference", "properties"),
        (f"{ITEMS}/{{ref}}", "crss=EPSG:2154", "crss"),
    ],
)
def test_an_unknown_parameter_on_any_ogc_route_is_a_400_naming_it(
    client: TestClient, cabins: list, path: str, query: str, field: str
) -> None:
    """OGC API Features /req/core/query-param-unknown, as the items route and /v1 and /public
    answer: `properties=reference` on one cabin was ignored, the whole cabin answered as if
    the client had its selection."""
    url = path.format(ref=cabins[0].reference)
    response = client.get(f"{url}?{query}")
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    (error,) = response.json()["errors"]
    assert error["field"] == field and "unknown parameter" in error["reason"]
    assert client.get(f"{url}?f=json").status_code == 200


@pytest.mark.parametrize(
    "query", ["f=json&f=json&nosuch=1", "nosuch=1&f=json&f=json", "f=js%00on&nosuch=1"]
)
def test_an_unknown_parameter_is_named_before_a_repeated_or_nul_one_as_on_v1(
    client: TestClient, query: str
) -> None:
    """One order on every root: /ogc named the repeated `f` (or its NUL) first, and the
    unknown name only once the client had mended it."""
    response = client.get(f"/ogc/collections?{query}")
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["field"] == "nosuch" and "unknown parameter" in error["reason"]


def test_the_item_route_still_takes_crs_and_f(client: TestClient, cabins: list) -> None:
    response = client.get(
        f"{ITEMS}/{cabins[0].reference}",
        params={"crs": "http://www.opengis.net/def/crs/EPSG/0/2154", "f": "json"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-crs"] == "<http://www.opengis.net/def/crs/EPSG/0/2154>"


def test_the_geometry_queryable_as_a_parameter_says_how_to_filter_the_location(
    client: TestClient,
) -> None:
    """The queryables list `geometry`; `geometry=…` was refused as an unknown parameter, 'see
    the queryables', which list it."""
    response = client.get(ITEMS, params={"geometry": "POINT(2.35 48.85)"})
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["field"] == "geometry"
    assert "bbox" in error["reason"] and "S_INTERSECTS" in error["reason"]


@pytest.mark.parametrize("pattern", ["%\\", "DÉMO%\\", "%\\\\\\"])
def test_a_like_pattern_ending_with_its_escape_character_is_a_400(
    client: TestClient, cabins: list, pattern: str
) -> None:
    """PostgreSQL refuses a LIKE pattern ending with the escape character when it reaches it:
    it was a 500."""
    cql2 = {"op": "like", "args": [{"property": "venue_name"}, pattern]}
    response = client.get(ITEMS, params=as_json_filter(cql2))
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["field"] == "filter" and "escape character" in error["reason"]
    escaped = {"op": "like", "args": [{"property": "venue_name"}, pattern + "\\"]}
    assert client.get(ITEMS, params=as_json_filter(escaped)).status_code == 200


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"filter": "S_INTERSECTS(geometry, POINT(652000 6862000))"}, "(652000 6.862e+06)"),
        (
            as_json_filter(
                {
                    "op": "s_within",
                    "args": [
                        {"property": "geometry"},
                        {"type": "Polygon", "coordinates": [[[2, 48], [3, 48], [3, 95], [2, 48]]]},
                    ],
                }
            ),
            "(3 95)",
        ),
    ],
)
def test_a_geometry_literal_outside_its_crs_is_a_400(
    client: TestClient, cabins: list, params: dict, where: str
) -> None:
    """Lambert-93 metres written without filter-crs found nothing, where a BBOX of them is
    refused: the position says why."""
    response = client.get(ITEMS, params=params)
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["field"] == "filter" and where in error["reason"], error["reason"]
    assert "filter-crs" in error["reason"]
    in_lambert_93 = client.get(
        ITEMS,
        params={
            "filter": "S_DISJOINT(geometry, POINT(652000 6862000))",
            "filter-crs": "http://www.opengis.net/def/crs/EPSG/0/2154",
            "bbox": BOX,
        },
    )
    assert refs(in_lambert_93) == sorted(c.reference for c in cabins)


OVERLAPPING_PARTS = {
    "type": "MultiPolygon",
    "coordinates": [
        [[[2, 48], [3, 48], [3, 49], [2, 49], [2, 48]]],
        [[[2.5, 48.5], [3.5, 48.5], [3.5, 49.5], [2.5, 49.5], [2.5, 48.5]]],
    ],
}


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        # GEOS: 'TopologyException: side location conflict at 2.5 49', a 500
        (
            as_json_filter({"op": op, "args": [{"property": "geometry"}, OVERLAPPING_PARTS]}),
            "Self-intersection",
        )
        for op in ("s_touches", "s_crosses", "s_overlaps", "s_intersects")
    ]
    + [
        (
            {"filter": "S_INTERSECTS(geometry, POLYGON((2 48, 3 49, 2 49, 3 48, 2 48)))"},
            "Self-intersection[2.5 48.5]",
        ),
        (
            {
                "filter": "S_INTERSECTS(geometry, POLYGON((600000 6800000, 700000 6900000,"
                " 600000 6900000, 700000 6800000, 600000 6800000)))",
                "filter-crs": "http://www.opengis.net/def/crs/EPSG/0/2154",
            },
            "Self-intersection[650000 6850000]",
        ),
    ],
)
def test_an_invalid_geometry_literal_is_a_400_saying_where(
    client: TestClient, cabins: list, params: dict, reason: str
) -> None:
    response = client.get(ITEMS, params=params)
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["field"] == "filter"
    assert "not a valid geometry" in error["reason"] and reason in error["reason"]


def test_a_filter_s_geometry_literals_are_checked_in_one_query(
    client: TestClient, db: Session, cabins: list
) -> None:
    """Each literal cost a round trip to the database before the filter ran: three literals,
    three queries. The first invalid one is named, in the filter's own coordinates."""
    square = "POLYGON((2 48, 3 48, 3 49, 2 49, 2 48))"
    bow_tie = (
        "POLYGON((600000 6800000, 700000 6900000, 600000 6900000, 700000 6800000, 600000 6800000))"
    )
    checks: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "ST_IsValid" in statement:
            checks.append(statement)

    engine = db.get_bind().engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        valid = client.get(
            ITEMS,
            params={
                "filter": f"S_INTERSECTS(geometry, {square}) OR S_INTERSECTS(geometry, {square})"
                " OR S_DISJOINT(geometry, POINT(2 48))",
                "bbox": BOX,
            },
        )
        assert refs(valid) == sorted(c.reference for c in cabins)
        assert len(checks) == 1
        invalid = client.get(
            ITEMS,
            params={
                "filter": "S_INTERSECTS(geometry, POINT(650000 6860000))"
                " OR S_INTERSECTS(geometry, POINT(651000 6860000))"
                f" OR S_INTERSECTS(geometry, {bow_tie})",
                "filter-crs": "http://www.opengis.net/def/crs/EPSG/0/2154",
            },
        )
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert invalid.status_code == 400, invalid.text
    (error,) = invalid.json()["errors"]
    assert error["field"] == "filter" and "Self-intersection[650000 6850000]" in error["reason"]
    assert len(checks) == 2


def test_a_cql2_json_geometry_collection_says_it_is_not_taken(client: TestClient) -> None:
    """pygeofilter answered 'Unable to parse expression node {...}'."""
    collection = {"type": "GeometryCollection", "geometries": [OVERLAPPING_PARTS]}
    cql2 = {"op": "s_intersects", "args": [{"property": "geometry"}, collection]}
    response = client.get(ITEMS, params=as_json_filter(cql2))
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert "a GeometryCollection is not taken" in error["reason"], error["reason"]


@pytest.mark.parametrize(
    "params",
    [
        {"filter": "base_fee_eur < 1" + "0" * 400},
        {"filter": "base_fee_eur BETWEEN -1" + "0" * 30 + " AND 1000"},
        {"filter": "base_fee_eur IN (1" + "0" * 30 + ", 30)"},
        as_json_filter({"op": "<", "args": [{"property": "base_fee_eur"}, 10**400]}),
    ],
)
def test_an_integer_past_a_bigint_in_a_filter_is_compared_as_a_number(
    client: TestClient, cabins: list, params: dict
) -> None:
    """An int was bound as a bigint: past 2**63 PostgreSQL refused it, a 500. Every cabin's
    fee (30 €) is below 10**30."""
    response = client.get(ITEMS, params={"bbox": BOX, **params})
    assert refs(response) == sorted(c.reference for c in cabins)


COUNTED = {
    "counted < 5": 4,
    "counted BETWEEN 2 AND 4": 3,
    "counted IN (2, 3)": 2,
    f"counted < {2**40}": 1000,
}


@pytest.mark.parametrize(
    "cql2", [*COUNTED, '{"op": "=", "args": [{"property": "counted"}, 3]}', f"counted < {2**63}"]
)
def test_an_integer_in_a_filter_is_compared_with_an_integer_column_s_index(
    db: Session, monkeypatch: pytest.MonkeyPatch, cql2: str
) -> None:
    """An integer literal was bound as a numeric: PostgreSQL compared an integer column as
    numeric, which its index does not cover (a sequential scan whatever the table's size).
    Past a bigint it is still compared as a number."""
    db.execute(text("CREATE TEMP TABLE counted (n integer PRIMARY KEY) ON COMMIT DROP"))
    db.execute(text("INSERT INTO counted SELECT generate_series(1, 1000)"))
    db.execute(text("ANALYZE counted"))
    counted = sa.table("counted", sa.column("n", sa.Integer))
    number = Property("counted", lambda: counted.c.n, {"type": "number"})
    monkeypatch.setitem(QUERYABLES, "counted", number)
    where = parse_filter(cql2, "cql2-json" if cql2.startswith("{") else "cql2-text").where
    found = db.scalar(sa.select(sa.func.count()).select_from(counted).where(where))
    assert found == COUNTED.get(cql2, 1000 if str(2**63) in cql2 else 1)
    if str(2**63) in cql2:
        return  # a numeric: no integer index covers it
    db.execute(text("SET LOCAL enable_seqscan = off"))
    query = sa.select(counted.c.n).where(where).compile(db.get_bind())
    plan = db.connection().exec_driver_sql(f"EXPLAIN {query}", query.params).scalars().all()
    assert "Index Cond" in " ".join(plan), plan  # not a filter over every row
