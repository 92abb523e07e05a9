"""SIT-09 (territorial need) and SIT-10 (saturation) on small zoning and zone-rouge layers."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from tests.rules.catalogue.factories import (
    LYON,
    PARIS,
    add_zone,
    add_zone_rouge,
    commune,
    fresh_layer,
    make_cabin,
    run_rule,
)


def test_sit09_passes_in_a_zip_commune_and_names_the_zoning_layer(db: Session) -> None:
    layer = fresh_layer(db, "medical_zone", scope="11", reference="arrêté ARS IDF 2026-01")
    add_zone(db, layer, "75056", "ZIP")
    fresh_layer(db, "zone_rouge")
    cabin = make_cabin(db, PARIS)
    outcome, evidence = run_rule(db, "SIT-09", [cabin])[cabin]
    assert outcome == "pass"
    assert evidence["met_by"] == "zone"
    assert evidence["zoning"]["zone"] == "ZIP"
    assert evidence["zoning"]["layer"]["layer_id"] == layer
    assert evidence["zoning"]["layer"]["synthetic"] is False


def test_sit09_passes_when_apl_is_below_the_threshold(db: Session) -> None:
    layer = fresh_layer(db, "medical_zone")
    add_zone(db, layer, "75056", "none", apl=2.1)
    fresh_layer(db, "zone_rouge")
    cabin = make_cabin(db, PARIS)
    outcome, evidence = run_rule(db, "SIT-09", [cabin])[cabin]
    assert (outcome, evidence["met_by"], evidence["apl_threshold"]) == ("pass", "apl", 2.5)


def test_sit09_passes_in_a_zone_rouge_epci(db: Session) -> None:
    layer = fresh_layer(db, "medical_zone")
    add_zone(db, layer, "69123", "none", apl=4.0)
    zr = fresh_layer(db, "zone_rouge", synthetic=True)
    add_zone_rouge(db, zr, commune(db, "69123").epci)
    cabin = make_cabin(db, LYON)
    outcome, evidence = run_rule(db, "SIT-09", [cabin])[cabin]
    assert (outcome, evidence["met_by"]) == ("pass", "zone_rouge")
    assert evidence["zone_rouge"]["layer"]["synthetic"] is True


def test_sit09_fails_outside_a_zone_of_need_without_concertation(db: Session) -> None:
    layer = fresh_layer(db, "medical_zone")
    add_zone(db, layer, "75056", "none", apl=4.0)
    fresh_layer(db, "zone_rouge")
    cabin = make_cabin(db, PARIS)
    concerted = make_cabin(
        db, PARIS, concertation_date=date(2026, 3, 1), concertation_parties=["ars", "cpts"]
    )
    verdicts = run_rule(db, "SIT-09", [cabin, concerted])
    assert verdicts[cabin][0] == "fail"
    assert verdicts[cabin][1]["in_accepted_zone"] is False
    assert verdicts[concerted][0] == "pass"
    assert verdicts[concerted][1]["concertation"]["parties"] == ["ars", "cpts"]
    # a regional profile that does not require a concertation lets it pass
    assert run_rule(db, "SIT-09", [cabin], concertation_required_otherwise=False)[cabin][0] == (
        "pass"
    )


def test_sit09_is_unknown_when_no_zoning_covers_the_commune(db: Session) -> None:
    layer = fresh_layer(db, "medical_zone", scope="84")  # Auvergne-Rhône-Alpes only
    add_zone(db, layer, "69123", "none", apl=4.0)
    fresh_layer(db, "zone_rouge")
    cabin = make_cabin(db, PARIS)
    outcome, evidence = run_rule(db, "SIT-09", [cabin])[cabin]
    assert outcome == "unknown"
    assert evidence["missing"] == ["medical_zone"]


def test_sit09_is_unknown_when_the_apl_is_not_known_outside_a_zone(db: Session) -> None:
    layer = fresh_layer(db, "medical_zone")
    add_zone(db, layer, "75056", "none")
    fresh_layer(db, "zone_rouge")
    cabin = make_cabin(db, PARIS)
    outcome, evidence = run_rule(db, "SIT-09", [cabin])[cabin]
    assert (outcome, evidence["missing"]) == ("unknown", ["apl"])


def _three_cabins(db: Session, status_of_others: str = "active") -> list:
    me = make_cabin(db, PARIS)
    east = make_cabin(db, PARIS, offset_m=(300, 0), status=status_of_others)
    north = make_cabin(db, PARIS, offset_m=(0, 300), status=status_of_others)
    return [me, east, north]


def test_sit10_fails_with_two_other_active_cabins_300_m_away_outside_a_zip(db: Session) -> None:
    layer = fresh_layer(db, "medical_zone")
    add_zone(db, layer, "75056", "ZAC")
    me, *_ = _three_cabins(db)
    outcome, evidence = run_rule(db, "SIT-10", [me])[me]
    assert outcome == "fail"
    assert evidence["other_active_cabins_within_radius"] == 2
    assert (evidence["radius_m"], evidence["max_other_cabins"]) == (1000, 1)
    assert evidence["exempt"] is False


def test_sit10_passes_with_the_same_cabins_inside_a_zip(db: Session) -> None:
    layer = fresh_layer(db, "medical_zone")
    add_zone(db, layer, "75056", "ZIP")
    me, *_ = _three_cabins(db)
    outcome, evidence = run_rule(db, "SIT-10", [me])[me]
    assert (outcome, evidence["exempt"]) == ("pass", True)


def test_sit10_counts_only_active_cabins_within_the_radius(db: Session) -> None:
    fresh_layer(db, "medical_zone")
    me, *_ = _three_cabins(db, status_of_others="draft")
    far = make_cabin(db, PARIS, offset_m=(1500, 0))
    verdicts = run_rule(db, "SIT-10", [me, far])
    assert verdicts[me][0] == "pass"
    assert verdicts[me][1]["other_active_cabins_within_radius"] == 0  # the others are drafts
    assert verdicts[far][1]["other_active_cabins_within_radius"] == 0  # `me` is 1500 m away
    wider = run_rule(db, "SIT-10", [far], radius_m=1600, max_other_cabins=0)[far][1]
    assert wider["other_active_cabins_within_radius"] == 1


def test_sit10_is_unknown_when_crowded_and_the_zoning_is_missing(db: Session) -> None:
    fresh_layer(db, "medical_zone")
    me, *_ = _three_cabins(db)
    outcome, evidence = run_rule(db, "SIT-10", [me])[me]
    assert (outcome, evidence["missing"]) == ("unknown", ["medical_zone"])
