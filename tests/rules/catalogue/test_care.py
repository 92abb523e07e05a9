"""SIT-11 (coordinated care), SIT-12 (CPTS consistency) and SIT-13 (pharmacy equipment) on
small FINESS and CPTS layers."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.rules.catalogue.factories import (
    LYON,
    PARIS,
    add_cpts,
    add_health_site,
    fresh_layer,
    make_cabin,
    run_rule,
)


def test_sit11_passes_when_a_partner_is_in_the_finess_layer(db: Session) -> None:
    layer = fresh_layer(db, "health_site", vintage="finess-2026-10")
    add_health_site(db, layer, "750000001", 2.35, 48.85)
    cabin = make_cabin(db, care_links=[{"kind": "pharmacie", "finess": "750000001"}])
    outcome, evidence = run_rule(db, "SIT-11", [cabin])[cabin]
    assert outcome == "pass"
    [partner] = evidence["partners"]
    assert partner["status"] == "found"
    assert partner["found_in"]["layer"]["vintage"] == "finess-2026-10"


def test_sit11_fails_without_partners_or_with_a_finess_absent_from_a_real_layer(
    db: Session,
) -> None:
    layer = fresh_layer(db, "health_site")
    add_health_site(db, layer, "750000001", 2.35, 48.85)
    none = make_cabin(db, care_links=[])
    absent = make_cabin(db, care_links=[{"kind": "msp", "finess": "750000999"}])
    verdicts = run_rule(db, "SIT-11", [none, absent])
    assert verdicts[none] == (
        "fail",
        {
            "partners": [],
            "accepted_partner_types": [
                "cpts",
                "msp",
                "centre_sante",
                "pharmacie",
                "professionnel_rpps",
            ],
        },
    )
    assert verdicts[absent][0] == "fail"
    assert verdicts[absent][1]["partners"][0]["status"] == "not_found"


def test_sit11_is_unknown_when_partners_cannot_be_checked(db: Session) -> None:
    layer = fresh_layer(db, "health_site", synthetic=True)
    add_health_site(db, layer, "SYN-75-000001", 2.35, 48.85)
    rpps = make_cabin(db, care_links=[{"kind": "professionnel_rpps", "rpps": "10000000001"}])
    synthetic = make_cabin(db, care_links=[{"kind": "pharmacie", "finess": "750000999"}])
    verdicts = run_rule(db, "SIT-11", [rpps, synthetic])
    assert verdicts[rpps][0] == "unknown"
    assert verdicts[synthetic][0] == "unknown"
    assert verdicts[synthetic][1]["partners"][0]["status"] == "unverifiable"


def test_sit12_passes_when_the_declared_cpts_covers_the_cabin(db: Session) -> None:
    layer = fresh_layer(db, "cpts")
    add_cpts(db, layer, "750000100", ["75056"])
    _cpts_polygons(db, layer)
    cabin = make_cabin(db, care_links=[{"kind": "cpts", "finess": "750000100"}])
    outcome, evidence = run_rule(db, "SIT-12", [cabin])[cabin]
    assert outcome == "pass"
    assert evidence["covering_cpts"][0]["cpts_id"] == "750000100"


def test_sit12_fails_when_the_declared_cpts_is_another_one(db: Session) -> None:
    layer = fresh_layer(db, "cpts")
    add_cpts(db, layer, "750000100", ["75056"])
    add_cpts(db, layer, "690000200", ["69123"])
    _cpts_polygons(db, layer)
    cabin = make_cabin(db, care_links=[{"kind": "cpts", "finess": "690000200"}])
    outcome, evidence = run_rule(db, "SIT-12", [cabin])[cabin]
    assert outcome == "fail"
    assert [c["cpts_id"] for c in evidence["covering_cpts"]] == ["750000100"]
    assert evidence["declared_cpts"] == ["690000200"]


def test_sit12_not_applicable_without_cpts_partner_or_outside_any_cpts(db: Session) -> None:
    layer = fresh_layer(db, "cpts")
    add_cpts(db, layer, "750000100", ["75056"])
    _cpts_polygons(db, layer)
    no_partner = make_cabin(db, care_links=[{"kind": "pharmacie", "finess": "750000001"}])
    uncovered = make_cabin(db, LYON, care_links=[{"kind": "cpts", "finess": "750000100"}])
    verdicts = run_rule(db, "SIT-12", [no_partner, uncovered])
    assert verdicts[no_partner][0] == "not_applicable"
    assert verdicts[uncovered] == (
        "not_applicable",
        {"covered": False, "declared_cpts": ["750000100"]},
    )


def test_sit12_is_unknown_when_no_cpts_layer_covers_the_region(db: Session) -> None:
    layer = fresh_layer(db, "cpts", scope="84")
    add_cpts(db, layer, "690000200", ["69123"])
    _cpts_polygons(db, layer)
    cabin = make_cabin(db, PARIS, care_links=[{"kind": "cpts", "finess": "750000100"}])
    outcome, evidence = run_rule(db, "SIT-12", [cabin])[cabin]
    assert (outcome, evidence["missing"]) == ("unknown", ["cpts"])


def _cpts_polygons(db: Session, layer: int) -> None:
    """Each test CPTS territory is the union of its member communes, as the importer builds it."""
    db.execute(
        text(
            "UPDATE cpts t SET geom = (SELECT ST_Multi(ST_Union(c.geom)) FROM commune c"
            " JOIN layer l ON l.id = c.layer_id AND l.kind = 'commune' AND l.is_current"
            " WHERE c.insee = ANY(t.member_insee)) WHERE t.layer_id = :layer"
        ),
        {"layer": layer},
    )


FULL = ["stethoscope_connected", "otoscope_connected", "oximeter", "blood_pressure_monitor"]


def test_sit13_passes_with_the_devices_in_a_closed_room(db: Session) -> None:
    cabin = make_cabin(
        db,
        siting={
            "assistance_modes": ["pharmacist"],
            "devices": [*FULL, "thermometer"],
            "enclosure": "closed_room",
        },
    )
    assert run_rule(db, "SIT-13", [cabin])[cabin][0] == "pass"


def test_sit13_fails_with_a_missing_device_or_an_open_borne(db: Session) -> None:
    lacking = make_cabin(
        db,
        siting={
            "assistance_modes": ["pharmacist"],
            "devices": FULL[:3],
            "enclosure": "closed_room",
        },
    )
    open_borne = make_cabin(
        db, siting={"assistance_modes": ["pharmacist"], "devices": FULL, "enclosure": "open_borne"}
    )
    verdicts = run_rule(db, "SIT-13", [lacking, open_borne])
    assert verdicts[lacking][0] == "fail"
    assert verdicts[lacking][1]["missing_devices"] == ["blood_pressure_monitor"]
    assert verdicts[open_borne][0] == "fail"
    assert verdicts[open_borne][1]["enclosure"] == "open_borne"


def test_sit13_unknown_without_enclosure_and_not_applicable_without_pharmacist(
    db: Session,
) -> None:
    unknown = make_cabin(db, siting={"assistance_modes": ["pharmacist"], "devices": FULL})
    nurse = make_cabin(db, siting={"assistance_modes": ["nurse"], "devices": []})
    verdicts = run_rule(db, "SIT-13", [unknown, nurse])
    assert verdicts[unknown][0] == "unknown"
    assert verdicts[unknown][1]["missing"] == ["siting.enclosure"]
    assert verdicts[nurse][0] == "not_applicable"


def test_sit12_is_unknown_when_the_cabin_is_in_no_commune(db: Session) -> None:
    layer = fresh_layer(db, "cpts")
    add_cpts(db, layer, "750000100", ["75056"])
    _cpts_polygons(db, layer)
    cabin = make_cabin(db, PARIS, commune_insee=None, care_links=[{"kind": "cpts", "finess": "1"}])
    outcome, evidence = run_rule(db, "SIT-12", [cabin])[cabin]
    assert (outcome, evidence["missing"]) == ("unknown", ["commune"])
