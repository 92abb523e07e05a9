"""SIT-19: the point lies in the declared commune; the venue's FINESS point is near the cabin."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tests.rules.catalogue.factories import (
    LYON,
    PARIS,
    add_health_site,
    fresh_layer,
    make_cabin,
    run_rule,
)


def test_sit19_passes_in_the_declared_commune_with_a_near_finess_point(db: Session) -> None:
    layer = fresh_layer(db, "health_site", vintage="finess-2026-10")
    lon, lat, _ = PARIS
    add_health_site(db, layer, "750000001", lon + 0.001, lat)  # about 73 m east
    cabin = make_cabin(db, PARIS, venue_finess="750000001")
    outcome, evidence = run_rule(db, "SIT-19", [cabin])[cabin]
    assert outcome == "pass"
    assert evidence["commune"]["inside_polygon"] is True
    assert evidence["commune"]["layer"]["kind"] == "commune"
    assert 60 < evidence["venue_finess"]["offset_m"] < 90
    assert evidence["venue_finess"]["site"]["layer"]["vintage"] == "finess-2026-10"


def test_sit19_fails_outside_the_declared_commune_and_names_where_it_is(db: Session) -> None:
    lon, lat, _ = LYON
    cabin = make_cabin(db, (lon, lat, "75056"), derived_insee="69123")
    outcome, evidence = run_rule(db, "SIT-19", [cabin])[cabin]
    assert outcome == "fail"
    assert evidence["commune"]["declared_insee"] == "75056"
    assert evidence["commune"]["falls_in"]["insee"] == "69123"
    assert evidence["commune"]["falls_in"]["name"] == "Lyon"
    assert evidence["commune"]["distance_to_declared_m"] > 300_000


def test_sit19_fails_when_the_finess_point_is_too_far(db: Session) -> None:
    layer = fresh_layer(db, "health_site")
    lon, lat, _ = PARIS
    add_health_site(db, layer, "750000001", lon + 0.01, lat)  # about 730 m
    cabin = make_cabin(db, PARIS, venue_finess="750000001")
    outcome, evidence = run_rule(db, "SIT-19", [cabin])[cabin]
    assert outcome == "fail"
    assert evidence["commune"]["outcome"] == "pass"
    assert evidence["venue_finess"]["outcome"] == "fail"
    assert evidence["venue_finess"]["max_venue_offset_m"] == 150


def test_sit19_skips_commune_only_geocodes_and_is_unknown_for_an_unknown_finess(
    db: Session,
) -> None:
    layer = fresh_layer(db, "health_site")
    lon, lat, _ = PARIS
    add_health_site(db, layer, "750000002", lon + 0.01, lat, commune_only=True)
    centroid = make_cabin(db, PARIS, venue_finess="750000002")
    unknown = make_cabin(db, PARIS, venue_finess="750000404")
    verdicts = run_rule(db, "SIT-19", [centroid, unknown])
    assert verdicts[centroid][0] == "pass"
    assert verdicts[centroid][1]["venue_finess"]["excluded_commune_only_geocode"] is True
    assert verdicts[unknown][0] == "unknown"
    assert verdicts[unknown][1]["missing"] == ["health_site"]
    # when the parameter says so, the commune-level geocode is used and is too far
    strict = run_rule(db, "SIT-19", [centroid], ignore_finess_commune_geocodes=False)
    assert strict[centroid][0] == "fail"


def test_sit19_tolerates_a_point_just_across_the_simplified_border(db: Session) -> None:
    # Lyon's town hall point declared in Villeurbanne (69266), 2-3 km away: beyond tolerance
    lon, lat, _ = LYON
    far = make_cabin(db, (lon, lat, "69266"), derived_insee="69123")
    assert run_rule(db, "SIT-19", [far])[far][0] == "fail"
    widened = run_rule(db, "SIT-19", [far], commune_border_tolerance_m=5000)[far]
    assert widened[0] == "pass"
    assert widened[1]["commune"]["inside_polygon"] is False
