"""Content negotiation: an `Accept` that takes none of the types a route answers is a 406
problem+json listing them, before anything is read or written; the headers real clients send
(a browser's, curl's, GDAL's, the web app's) are answered as before, and a URL that names its
format (the exports, OGC's `f=`) is answered in that format whatever `Accept` says."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.cabins.models import Cabin
from service.negotiation import media_ranges, weight_of
from tests.auth.factories import bearer, make_key, make_operator
from tests.cabins.factories import cabin_body

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"
GDAL = "application/geo+json, application/json"  # ogr2ogr's OAPIF driver, every request
WEB_APP = "application/json"  # service/web's fetches


def assert_406(response, offered: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 406, response.text[:300]
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/not-acceptable")
    assert body["offered"] == offered
    assert body["errors"] == [
        {"field": "Accept", "reason": f"must take one of: {', '.join(offered)}"}
    ]
    for media_type in offered:
        assert media_type in body["detail"]


def test_xml_asked_of_a_json_route_is_a_406_listing_what_it_answers(client: TestClient) -> None:
    assert_406(
        client.get("/ogc/conformance", headers={"Accept": "application/xml"}),
        ["application/json"],
    )


def test_a_route_answering_several_types_lists_them_all(client: TestClient) -> None:
    response = client.get(
        "/ogc/collections/cabins/items", headers={"Accept": "application/xml, text/html"}
    )
    assert_406(response, ["application/json", "application/geo+json"])


def test_the_406_comes_before_the_key_check(client: TestClient) -> None:
    """No handler, no dependency ran: the 406 is answered even without a key."""
    assert_406(
        client.get("/v1/cabins", headers={"Accept": "application/xml"}), ["application/json"]
    )


def test_a_write_refused_for_its_accept_writes_nothing(client: TestClient, db: Session) -> None:
    operator = make_operator(db)
    key = bearer(make_key(db, "operator", operator_id=operator))
    before = db.scalar(select(func.count()).select_from(Cabin))
    response = client.post(
        "/v1/cabins", json=cabin_body(), headers={**key, "Accept": "application/xml"}
    )
    assert_406(response, ["application/json"])
    assert db.scalar(select(func.count()).select_from(Cabin)) == before
    created = client.post("/v1/cabins", json=cabin_body(), headers={**key, "Accept": WEB_APP})
    assert created.status_code == 201, created.text


@pytest.mark.parametrize(
    "accept",
    [BROWSER, "*/*", GDAL, WEB_APP, "application/*", "", "*"],
    ids=["browser", "curl", "gdal", "web-app", "application/*", "empty", "unreadable"],
)
@pytest.mark.parametrize(
    "url", ["/ogc", "/ogc/collections/cabins/items", "/ogc/collections/cabins/queryables"]
)
def test_the_headers_real_clients_send_are_answered(
    client: TestClient, url: str, accept: str
) -> None:
    response = client.get(url, headers={"Accept": accept})
    assert response.status_code == 200, (accept, response.text[:300])


def test_geojson_is_answered_where_it_is_offered_only(client: TestClient) -> None:
    geojson = {"Accept": "application/geo+json"}
    assert client.get("/ogc/collections/cabins/items", headers=geojson).status_code == 200
    assert client.get("/public/cabins?bbox=2.2,48.8,2.4,48.9", headers=geojson).status_code == 200
    assert_406(client.get("/ogc", headers=geojson), ["application/json"])


def test_json_refused_by_weight_zero_is_a_406(client: TestClient) -> None:
    assert_406(
        client.get("/ogc", headers={"Accept": "application/json;q=0, text/*"}),
        ["application/json"],
    )


def test_a_url_naming_its_format_is_answered_in_it(client: TestClient, db: Session) -> None:
    """A regulator's script may send `Accept: application/json` with every request: the CSV
    it asks for by name is still the CSV; OGC's `f=json` outranks `Accept` likewise."""
    key = bearer(make_key(db, "regulator", scope="national"))
    for extension, media_type in (("csv", "text/csv"), ("geojson", "application/geo+json")):
        response = client.get(
            f"/v1/compliance/export.{extension}", headers={**key, "Accept": "application/xml"}
        )
        assert response.status_code == 200, response.text[:300]
        assert response.headers["content-type"].startswith(media_type)
    response = client.get("/ogc?f=json", headers={"Accept": "application/xml"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"


def test_an_error_is_problem_json_whatever_accept_says(client: TestClient) -> None:
    response = client.get("/ogc/collections/nope", headers={"Accept": GDAL})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_the_contract_documents_the_406(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "406" in paths["/v1/cabins"]["get"]["responses"]
    assert "406" in paths["/ogc/collections/{collectionId}/items"]["get"]["responses"]
    assert "406" not in paths["/v1/compliance/export.csv"]["get"]["responses"]


def test_weights() -> None:
    ranges = media_ranges("application/json;q=0.5, application/*;q=0, */*;q=0.1")
    assert ranges is not None
    assert weight_of(ranges, "application/json") == 0.5
    assert weight_of(ranges, "application/geo+json") == 0.5  # JSON, more specific than app/*
    assert weight_of(ranges, "application/xml") == 0
    assert weight_of(ranges, "text/csv") == 0.1
    assert media_ranges("*") is None
    assert media_ranges("text/html;q=high") is None


def test_json_refused_still_leaves_geojson_to_the_other_ranges(client: TestClient) -> None:
    """RFC 6839's `+json` reading only grants: a client refusing plain JSON but taking `*/*`
    takes GeoJSON (RFC 9110 has no range that refuses it)."""
    ranges = media_ranges("application/json;q=0, */*")
    assert ranges is not None
    assert weight_of(ranges, "application/geo+json") == 1.0
    assert weight_of(ranges, "application/json") == 0
    response = client.get(
        "/ogc/collections/cabins/items", headers={"Accept": "application/json;q=0, */*"}
    )
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"] == "application/geo+json"
