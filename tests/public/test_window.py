"""`GET /public/cabins?bbox=`: an RFC 7946 FeatureCollection of active cabins with public
fields only, cached with an ETag (304), open to any origin, and 400 for a bad window."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.public.factories import (
    PARIS,
    make_cabin,
    make_operator,
    moved,
    published_compliance,
)

PARIS_BOX = "2.30,48.83,2.40,48.88"


def assert_rfc7946_point_collection(document: dict) -> None:
    assert document["type"] == "FeatureCollection"
    assert "crs" not in document
    for feature in document["features"]:
        assert feature["type"] == "Feature"
        assert isinstance(feature["id"], str)
        assert isinstance(feature["properties"], dict)
        geometry = feature["geometry"]
        assert set(geometry) == {"type", "coordinates"}
        assert geometry["type"] == "Point"
        lon, lat = geometry["coordinates"]
        # lon/lat order: mainland France is east of -5° and north of 41°
        assert -180 <= lon <= 180 and -90 <= lat <= 90
        assert 41 < lat < 52 and -6 < lon < 10


def test_window_is_geojson_of_active_cabins_only(client: TestClient, db: Session) -> None:
    op = make_operator(db)
    shown = make_cabin(db, op, moved(PARIS, 100))
    for status in ("draft", "declared", "suspended", "decommissioned"):
        make_cabin(db, op, moved(PARIS, 200), status=status)
    make_cabin(db, op, (4.8357, 45.7640))  # Lyon: outside the window

    response = client.get("/public/cabins", params={"bbox": PARIS_BOX})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/geo+json"
    document = response.json()
    assert_rfc7946_point_collection(document)
    assert [f["id"] for f in document["features"]] == [shown.reference]
    lon, lat = document["features"][0]["geometry"]["coordinates"]
    assert (round(lon, 5), round(lat, 5)) == tuple(round(v, 5) for v in moved(PARIS, 100))
    props = document["features"][0]["properties"]
    assert props["venue_name"] == "Pharmacie de test"
    assert props["opening_hours"] == "Mo-Sa 09:00-19:00"
    assert props["fees"] == {
        "base_fee_eur": 30.0,
        "sector": "sector_1",
        "depassements_possible": False,
    }
    assert "compliance_status" in props and "accessibility_label" in props


def test_private_fields_are_never_published(client: TestClient, db: Session) -> None:
    op = make_operator(db, contact_email="secret-ops@example.org", contact_phone="+33100000000")
    cabin = make_cabin(
        db,
        op,
        moved(PARIS, 100),
        operator_reference="PRIVATE-OPREF-42",
        ars_declaration_reference="ARS-SECRET-REF",
        siting={"responsible_person": {"name_or_role": "Mme Secret"}},
        provider={"name": "Provider SAS", "agrement_number": "AGR-SECRET"},
        fees={"base_fee_eur": 25, "shown_on_site": True},
    )
    bodies = [
        client.get("/public/cabins", params={"bbox": PARIS_BOX}).text,
        client.get("/ogc/collections/cabins/items", params={"bbox": PARIS_BOX}).text,
        client.get(f"/ogc/collections/cabins/items/{cabin.reference}").text,
        client.get("/public/cabins/nearest", params={"lat": PARIS[1], "lon": PARIS[0]}).text,
    ]
    for body in bodies:
        assert cabin.reference in body
        for secret in (
            "secret-ops@example.org",
            "+33100000000",
            "PRIVATE-OPREF-42",
            "ARS-SECRET-REF",
            "Mme Secret",
            "AGR-SECRET",
            str(cabin.id),
            str(op),
            "operator",
            "shown_on_site",
        ):
            assert secret not in body, secret


def test_if_none_match_gives_304(client: TestClient, db: Session) -> None:
    op = make_operator(db)
    make_cabin(db, op, moved(PARIS, 100))
    first = client.get("/public/cabins", params={"bbox": PARIS_BOX})
    etag = first.headers["etag"]
    assert first.headers["cache-control"].startswith("public")
    again = client.get(
        "/public/cabins", params={"bbox": PARIS_BOX}, headers={"If-None-Match": etag}
    )
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    # a change in the window changes the ETag
    make_cabin(db, op, moved(PARIS, 300))
    changed = client.get(
        "/public/cabins", params={"bbox": PARIS_BOX}, headers={"If-None-Match": etag}
    )
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert len(changed.json()["features"]) == 2


def test_every_public_read_answers_304_to_its_etag(client: TestClient, db: Session) -> None:
    op = make_operator(db)
    cabin = make_cabin(db, op, moved(PARIS, 100))
    for url in (
        f"/public/cabins/nearest?lat={PARIS[1]}&lon={PARIS[0]}",
        "/ogc",
        "/ogc/conformance",
        "/ogc/collections/cabins",
        "/ogc/collections/cabins/queryables",
        "/ogc/collections/cabins/items?limit=5",
        f"/ogc/collections/cabins/items/{cabin.reference}",
    ):
        first = client.get(url)
        assert first.status_code == 200, url
        second = client.get(url, headers={"If-None-Match": first.headers["etag"]})
        assert second.status_code == 304, url


def test_cors_is_open_for_get(client: TestClient) -> None:
    response = client.get(
        "/public/cabins", params={"bbox": PARIS_BOX}, headers={"Origin": "https://finder.example"}
    )
    assert response.headers["access-control-allow-origin"] == "*"
    assert "ETag" in response.headers["access-control-expose-headers"]
    preflight = client.options(
        "/ogc/collections/cabins/items",
        headers={"Origin": "https://finder.example", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "GET" in preflight.headers["access-control-allow-methods"]


def test_bad_windows_are_400_naming_bbox(client: TestClient) -> None:
    for bbox in (
        "2.3,48.88,2.4,48.83",  # inverted latitudes
        "179,48,-170,49",  # across the antimeridian, 11 degrees wide: too large
        "-5,42,8,51",  # all of France: too large
        "2.3,48.8,2.4",  # three numbers
        "a,b,c,d",
        "2.3,95,2.4,96",  # latitude out of range
        "nan,48,2,49",
    ):
        response = client.get("/public/cabins", params={"bbox": bbox})
        assert response.status_code == 400, bbox
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] == "bbox"
    assert client.get("/public/cabins").json()["errors"][0]["field"] == "bbox"


def test_a_window_across_the_antimeridian_is_its_two_sides(client: TestClient, db: Session) -> None:
    """minlon > maxlon is a window across the antimeridian (as OGC reads a bbox), 2 degrees
    wide here, not an inverted box: the cabins on both sides of it are in it."""
    op = make_operator(db)
    east = make_cabin(db, op, (179.6, -13.3))
    west = make_cabin(db, op, (-179.6, -13.3))
    make_cabin(db, op, (178.0, -13.3))
    response = client.get("/public/cabins", params={"bbox": "179,-14,-179,-13"})
    assert response.status_code == 200, response.text
    found = sorted(f["id"] for f in response.json()["features"])
    assert found == sorted([east.reference, west.reference])


def test_unknown_reference_is_404(client: TestClient) -> None:
    response = client.get(f"/ogc/collections/cabins/items/CAB-{uuid.uuid4().hex[:8]}")
    assert response.status_code == 404


def test_a_new_verdict_alone_changes_the_window_etag(client: TestClient, db: Session) -> None:
    """A re-evaluation (a new rule set, a new layer vintage) changes a cabin's published label
    without editing the cabin: a client revalidating its copy must not get a 304."""
    cabin = make_cabin(db, make_operator(db), moved(PARIS, 100))
    compliance = published_compliance(cabin.id, "accessible")
    db.add(compliance)
    db.flush()
    first = client.get("/public/cabins", params={"bbox": PARIS_BOX})
    compliance.accessibility_label = "not_accessible"  # its stamp unchanged, as a pass may
    db.flush()
    again = client.get(
        "/public/cabins",
        params={"bbox": PARIS_BOX},
        headers={"If-None-Match": first.headers["etag"]},
    )
    assert again.status_code == 200
    assert again.json()["features"][0]["properties"]["accessibility_label"] == "not_accessible"


def test_compliance_status_and_label_come_from_the_rule_engine(
    client: TestClient, db: Session
) -> None:
    op = make_operator(db)
    evaluated = make_cabin(db, op, moved(PARIS, 100))
    pending = make_cabin(db, op, moved(PARIS, 200))
    db.add(published_compliance(evaluated.id, "accessible"))
    db.flush()
    features = {
        f["id"]: f["properties"]
        for f in client.get("/public/cabins", params={"bbox": PARIS_BOX}).json()["features"]
    }
    assert features[evaluated.reference]["compliance_status"] == "compliant"
    assert features[evaluated.reference]["accessibility_label"] == "accessible"
    assert features[pending.reference]["compliance_status"] is None
    filtered = client.get(
        "/ogc/collections/cabins/items",
        params={"bbox": PARIS_BOX, "filter": "accessibility_label = 'accessible'"},
    ).json()
    assert [f["id"] for f in filtered["features"]] == [evaluated.reference]


def test_a_browser_may_send_and_read_its_request_id(client: TestClient) -> None:
    """The service echoes a client's X-Request-ID: the preflight allowed only If-None-Match and
    Accept, so Chromium refused a finder app's request carrying one before it was sent, and
    the id was not exposed to the app's script."""
    preflight = client.options(
        "/ogc/collections/cabins/items",
        headers={
            "Origin": "https://finder.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-request-id, if-none-match",
        },
    )
    assert preflight.status_code == 204
    allowed = {
        h.strip().lower() for h in preflight.headers["access-control-allow-headers"].split(",")
    }
    assert {"x-request-id", "if-none-match"} <= allowed
    response = client.get(
        "/public/cabins",
        params={"bbox": PARIS_BOX},
        headers={"Origin": "https://finder.example", "X-Request-ID": "finder-app-42"},
    )
    assert response.headers["x-request-id"] == "finder-app-42"
    exposed = {
        h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")
    }
    assert "x-request-id" in exposed
