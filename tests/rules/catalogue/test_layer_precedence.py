"""Which layer answers for a cabin's commune in the rules that read the medical zoning (SIT-09,
SIT-10) and the CPTS territories (SIT-02, SIT-12): once a région has its own real layer, the
national synthetic one no longer speaks for any commune of that région, even one the région's
file leaves out; a commune of another région still reads the national layer."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.rules.catalogue.factories import (
    LYON,
    PARIS,
    add_cpts,
    add_zone,
    commune_point,
    fresh_layer,
    make_cabin,
    run_rule,
)

VILLEURBANNE = "69266"  # Auvergne-Rhône-Alpes (84), like Lyon


def _zonings(db: Session) -> tuple[int, int]:
    """A national synthetic zoning that zones Villeurbanne, Lyon and Paris ZIP, and the real
    zoning of région 84 that has Lyon (ZAC) but leaves Villeurbanne out."""
    national = fresh_layer(db, "medical_zone", synthetic=True)
    for insee in (VILLEURBANNE, LYON[2], PARIS[2]):
        add_zone(db, national, insee, "ZIP", apl=1.0)
    regional = fresh_layer(db, "medical_zone", scope="84", reference="arrêté 84", beside=True)
    add_zone(db, regional, LYON[2], "ZAC", apl=3.0)
    fresh_layer(db, "zone_rouge")
    return national, regional


def test_sit09_reads_only_the_regions_real_zoning_once_it_is_imported(db: Session) -> None:
    national, regional = _zonings(db)
    left_out = make_cabin(db, commune_point(db, VILLEURBANNE))
    lyon = make_cabin(db, LYON)
    paris = make_cabin(db, PARIS)
    verdicts = run_rule(db, "SIT-09", [left_out, lyon, paris])

    outcome, evidence = verdicts[left_out]
    assert outcome == "unknown"
    assert evidence["missing"] == ["medical_zone"]
    assert "zoning" not in evidence and "in_accepted_zone" not in evidence
    assert evidence["zoning_layer"]["layer_id"] == regional
    assert (evidence["zoning_layer"]["scope"], evidence["zoning_layer"]["synthetic"]) == (
        "84",
        False,
    )

    outcome, evidence = verdicts[lyon]
    assert (outcome, evidence["met_by"]) == ("pass", "zone")
    assert evidence["zoning"]["zone"] == "ZAC"
    assert evidence["zoning"]["layer"]["layer_id"] == regional
    assert "zoning_layer" not in evidence

    outcome, evidence = verdicts[paris]  # Île-de-France has no real zoning: the national one
    assert (outcome, evidence["zoning"]["zone"]) == ("pass", "ZIP")
    assert evidence["zoning"]["layer"]["layer_id"] == national
    assert evidence["zoning"]["layer"]["synthetic"] is True


def test_sit10_exempts_no_crowded_cabin_on_the_national_zoning_of_a_zoned_region(
    db: Session,
) -> None:
    _zonings(db)
    where = commune_point(db, VILLEURBANNE)
    me = make_cabin(db, where)
    for offset in ((300, 0), (0, 300)):
        make_cabin(db, where, offset_m=offset)
    outcome, evidence = run_rule(db, "SIT-10", [me])[me]
    assert (outcome, evidence["missing"]) == ("unknown", ["medical_zone"])
    assert "zoning" not in evidence


def _cpts_layers(db: Session) -> tuple[int, int]:
    """A national synthetic CPTS layer (one territory holding Villeurbanne and Lyon, one Paris)
    and the real CPTS list of région 84, whose only territory is Lyon."""
    national = fresh_layer(db, "cpts", synthetic=True)
    add_cpts(db, national, "SYN-CPTS-69", [LYON[2], VILLEURBANNE])
    add_cpts(db, national, "SYN-CPTS-75", [PARIS[2]])
    regional = fresh_layer(db, "cpts", scope="84", beside=True)
    add_cpts(db, regional, "690000300", [LYON[2]])
    db.execute(
        text(
            "UPDATE cpts t SET geom = (SELECT ST_Multi(ST_Union(c.geom)) FROM commune c"
            " JOIN layer l ON l.id = c.layer_id AND l.kind = 'commune' AND l.is_current"
            " WHERE c.insee = ANY(t.member_insee)) WHERE t.layer_id IN (:a, :b)"
        ),
        {"a": national, "b": regional},
    )
    return national, regional


@pytest.mark.parametrize("few", [True, False])
def test_sit02_reads_only_the_regions_real_cpts_list(db: Session, few: bool) -> None:
    _cpts_layers(db)
    informed: dict[str, Any] = {
        "service_start_date": date(2026, 3, 1),
        "cpam_informed_date": date(2026, 2, 2),
        "cpts_informed_date": None,
    }
    left_out = make_cabin(db, commune_point(db, VILLEURBANNE), **informed)
    lyon = make_cabin(db, LYON, **informed)
    paris = make_cabin(db, PARIS, **informed)
    verdicts = run_rule(db, "SIT-02", [left_out, lyon, paris], few=few)

    outcome, evidence = verdicts[left_out]  # in no territory of the région's own list
    assert (outcome, evidence["cpts_coverage"]) == ("pass", "not_covered")
    assert evidence["covering_cpts"] is None
    outcome, evidence = verdicts[lyon]
    assert (outcome, evidence["cpts_coverage"]) == ("fail", "covered")
    assert [c["id"] for c in evidence["covering_cpts"]] == ["690000300"]
    outcome, evidence = verdicts[paris]  # Île-de-France: the national layer still answers
    assert (outcome, evidence["cpts_coverage"]) == ("fail", "covered")
    assert [c["id"] for c in evidence["covering_cpts"]] == ["SYN-CPTS-75"]


def test_sit02_is_unknown_in_a_region_no_cpts_layer_answers_for(db: Session) -> None:
    regional = fresh_layer(db, "cpts", scope="84")
    add_cpts(db, regional, "690000300", [LYON[2]])
    paris = make_cabin(
        db, PARIS, cpam_informed_date=date(2026, 2, 2), service_start_date=date(2026, 3, 1)
    )
    outcome, evidence = run_rule(db, "SIT-02", [paris])[paris]
    assert (outcome, evidence["cpts_coverage"]) == ("unknown", "unknown")


def test_sit12_reads_only_the_regions_real_cpts_list(db: Session) -> None:
    _national, regional = _cpts_layers(db)
    synthetic_partner = [{"kind": "cpts", "finess": "SYN-CPTS-69"}]
    left_out = make_cabin(db, commune_point(db, VILLEURBANNE), care_links=synthetic_partner)
    lyon = make_cabin(db, LYON, care_links=synthetic_partner)
    paris = make_cabin(db, PARIS, care_links=[{"kind": "cpts", "finess": "SYN-CPTS-75"}])
    verdicts = run_rule(db, "SIT-12", [left_out, lyon, paris])

    assert verdicts[left_out] == (
        "not_applicable",
        {"covered": False, "declared_cpts": ["SYN-CPTS-69"]},
    )
    outcome, evidence = verdicts[lyon]
    assert outcome == "fail"
    assert [c["cpts_id"] for c in evidence["covering_cpts"]] == ["690000300"]
    assert evidence["covering_cpts"][0]["layer"]["layer_id"] == regional
    outcome, evidence = verdicts[paris]
    assert outcome == "pass"
    assert evidence["covering_cpts"][0]["layer"]["synthetic"] is True
