"""`GET /public/cabins/nearest`: geodesic order, needs matching with its evidence, unknown data
never claimed met, only active cabins, and the 400s."""

from __future__ import annotations

import random

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.public.factories import (
    PARIS,
    WHEELCHAIR_OK,
    make_cabin,
    make_operator,
    moved,
    published_compliance,
)

LILLE = (3.0573, 50.6292)


def nearest(client: TestClient, **params: object) -> list[dict]:
    response = client.get("/public/cabins/nearest", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()["results"]


def test_nearest_is_ordered_by_true_geodesic_distance(client: TestClient, db: Session) -> None:
    rng = random.Random(8)
    op = make_operator(db)
    for _ in range(60):
        make_cabin(db, op, moved(LILLE, rng.uniform(-6000, 6000), rng.uniform(-6000, 6000)))
    lon, lat = LILLE
    results = nearest(client, lat=lat, lon=lon, limit=10)

    expected = db.execute(
        text(
            "SELECT reference, ST_Distance(geom::geography,"
            " ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) AS d FROM cabin"
            " WHERE status = 'active' ORDER BY d, reference LIMIT 10"
        ),
        {"lon": lon, "lat": lat},
    ).all()
    by_degrees = (
        db.execute(
            text(
                "SELECT reference FROM cabin WHERE status = 'active'"
                " ORDER BY geom <-> ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) LIMIT 10"
            ),
            {"lon": lon, "lat": lat},
        )
        .scalars()
        .all()
    )
    assert [r["reference"] for r in results] == [row.reference for row in expected]
    # the data makes the point: planar degrees would give another top 10 here
    assert [r["reference"] for r in results] != list(by_degrees)
    for result, row in zip(results, expected, strict=True):
        assert abs(result["distance_m"] - row.d) < 0.1


def test_radius_limits_the_search(client: TestClient, db: Session) -> None:
    op = make_operator(db)
    near = make_cabin(db, op, moved(LILLE, 800))
    make_cabin(db, op, moved(LILLE, 0, 3000))
    lon, lat = LILLE
    results = nearest(client, lat=lat, lon=lon, radius=1000)
    assert [r["reference"] for r in results] == [near.reference]
    assert 790 < results[0]["distance_m"] < 810


def test_only_active_cabins_are_returned(client: TestClient, db: Session) -> None:
    op = make_operator(db)
    active = make_cabin(db, op, moved(LILLE, 100))
    for status in ("draft", "declared", "suspended", "decommissioned"):
        make_cabin(db, op, moved(LILLE, 50), status=status)
    lon, lat = LILLE
    assert [r["reference"] for r in nearest(client, lat=lat, lon=lon, radius=500)] == [
        active.reference
    ]


def test_needs_met_not_met_and_unknown(client: TestClient, db: Session) -> None:
    op = make_operator(db)
    met = make_cabin(db, op, moved(PARIS, 100), accessibility=WHEELCHAIR_OK)
    make_cabin(  # door too narrow: not met
        db, op, moved(PARIS, 200), accessibility={**WHEELCHAIR_OK, "cabin_door_clear_width_cm": 70}
    )
    unknown = make_cabin(  # turning space not recorded: unknown
        db, op, moved(PARIS, 300), accessibility={**WHEELCHAIR_OK, "turning_diameter_cm": None}
    )
    lon, lat = PARIS

    results = nearest(client, lat=lat, lon=lon, radius=1000, needs="wheelchair")
    assert [r["reference"] for r in results] == [met.reference]
    wheelchair = results[0]["needs"]["wheelchair"]
    assert results[0]["match"] == "met"
    assert wheelchair["status"] == "met"
    door = next(c for c in wheelchair["criteria"] if c["field"] == "cabin_door_clear_width_cm")
    assert door == {"field": "cabin_door_clear_width_cm", "value": 90, "minimum": 77, "met": True}

    results = nearest(
        client, lat=lat, lon=lon, radius=1000, needs="wheelchair", include_unknown="true"
    )
    assert [(r["reference"], r["match"]) for r in results] == [
        (met.reference, "met"),
        (unknown.reference, "unknown"),
    ]
    turning = next(
        c
        for c in results[1]["needs"]["wheelchair"]["criteria"]
        if c["field"] == "turning_diameter_cm"
    )
    assert turning["value"] is None and turning["met"] is None
    assert results[1]["needs"]["wheelchair"]["status"] == "unknown"


def test_new_buildings_need_the_wider_door(client: TestClient, db: Session) -> None:
    op = make_operator(db)
    make_cabin(
        db,
        op,
        moved(PARIS, 100),
        accessibility={**WHEELCHAIR_OK, "cabin_door_clear_width_cm": 80},
        venue_building_regime="new",
    )
    lon, lat = PARIS
    assert nearest(client, lat=lat, lon=lon, radius=500, needs="wheelchair") == []


def test_every_need_must_be_met(client: TestClient, db: Session) -> None:
    op = make_operator(db)
    make_cabin(db, op, moved(PARIS, 100), accessibility={"hearing_loop": True})
    both = make_cabin(
        db, op, moved(PARIS, 200), accessibility={"hearing_loop": True, "speech_output": True}
    )
    make_cabin(
        db, op, moved(PARIS, 300), accessibility={"hearing_loop": True, "speech_output": False}
    )
    lon, lat = PARIS
    results = nearest(client, lat=lat, lon=lon, radius=1000, needs="hearing_loop,speech_output")
    assert [r["reference"] for r in results] == [both.reference]
    assert set(results[0]["needs"]) == {"hearing_loop", "speech_output"}
    # a false fact is never included, even with include_unknown
    results = nearest(
        client,
        lat=lat,
        lon=lon,
        radius=1000,
        needs="hearing_loop,speech_output",
        include_unknown="true",
    )
    assert [(r["match"]) for r in results] == ["unknown", "met"]


def test_min_door_width_reports_measurement_and_threshold(client: TestClient, db: Session) -> None:
    op = make_operator(db)
    wide = make_cabin(db, op, moved(PARIS, 100), accessibility={"cabin_door_clear_width_cm": 95})
    make_cabin(db, op, moved(PARIS, 50), accessibility={"cabin_door_clear_width_cm": 85})
    lon, lat = PARIS
    results = nearest(client, lat=lat, lon=lon, radius=500, min_door_width_cm=90)
    assert [r["reference"] for r in results] == [wide.reference]
    assert results[0]["needs"]["min_door_width"]["criteria"] == [
        {"field": "cabin_door_clear_width_cm", "value": 95, "minimum": 90, "met": True}
    ]


def test_bad_parameters_are_400_naming_the_parameter(client: TestClient) -> None:
    cases = [
        ({"lat": 91, "lon": 2}, "lat"),
        ({"lat": 48, "lon": 181}, "lon"),
        ({"lat": 48, "lon": 2, "needs": "wheelchair,jetpack"}, "needs"),
        ({"lat": 48, "lon": 2, "radius": 10_000_000}, "radius"),
        ({"lat": 48, "lon": 2, "limit": 0}, "limit"),
        ({"lon": 2}, "lat"),
    ]
    for params, field in cases:
        response = client.get("/public/cabins/nearest", params=params)
        assert response.status_code == 400, (params, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert field in [e["field"] for e in response.json()["errors"]], response.json()


def test_a_number_that_is_not_finite_is_said_so(client: TestClient) -> None:
    """NaN is not 'greater than 90': the reason says what is wrong with it."""
    for params, field in (
        ({"lat": "NaN", "lon": 2}, "lat"),
        ({"lat": 48, "lon": "-inf"}, "lon"),
        ({"lat": 48, "lon": 2, "radius": "nan"}, "radius"),
        ({"lat": 48, "lon": 2, "min_door_width_cm": "nan"}, "min_door_width_cm"),
    ):
        response = client.get("/public/cabins/nearest", params=params)
        assert response.status_code == 400
        (error,) = response.json()["errors"]
        assert error["field"] == field
        assert "finite" in error["reason"], error["reason"]


def test_a_need_given_twice_is_one_need(client: TestClient, db: Session) -> None:
    make_cabin(db, make_operator(db), PARIS)
    response = client.get(
        "/public/cabins/nearest",
        params={"lat": PARIS[1], "lon": PARIS[0], "needs": "wheelchair,wheelchair"},
    )
    assert response.status_code == 200
    assert response.json()["query"]["needs"] == ["wheelchair"]


def test_accessible_keeps_only_cabins_the_rule_engine_labels_accessible(
    client: TestClient, db: Session
) -> None:
    op = make_operator(db)
    labels = {"accessible": 300, "partial": 100, "not_accessible": 200, "unknown": 400}
    cabins = {label: make_cabin(db, op, moved(LILLE, metres)) for label, metres in labels.items()}
    far_accessible = make_cabin(db, op, moved(LILLE, 900))
    not_evaluated = make_cabin(db, op, moved(LILLE, 50))
    for label, cabin in [*cabins.items(), ("accessible", far_accessible)]:
        db.add(published_compliance(cabin.id, label))
    db.flush()
    lon, lat = LILLE

    everything = nearest(client, lat=lat, lon=lon, radius=2000, limit=10)
    assert everything[0]["reference"] == not_evaluated.reference
    assert len(everything) == 6

    response = client.get(
        "/public/cabins/nearest",
        params={"lat": lat, "lon": lon, "radius": 2000, "limit": 10, "accessible": "true"},
    )
    assert response.status_code == 200
    assert response.json()["query"]["accessible"] is True
    results = response.json()["results"]
    assert [r["reference"] for r in results] == [
        cabins["accessible"].reference,
        far_accessible.reference,
    ]
    assert {r["properties"]["accessibility_label"] for r in results} == {"accessible"}
    # with the KNN candidates too (no radius), and combined with needs
    assert [
        r["reference"] for r in nearest(client, lat=lat, lon=lon, limit=1, accessible="true")
    ] == [cabins["accessible"].reference]
    assert nearest(client, lat=lat, lon=lon, needs="hearing_loop", accessible="true") == []
    bad = client.get(
        "/public/cabins/nearest", params={"lat": lat, "lon": lon, "accessible": "maybe"}
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "accessible"
