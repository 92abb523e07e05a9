"""SIT-03 (care place), SIT-04 (excluded commercial venues), SIT-06 (waiting area outside
care places): a passing, a failing and an unknown case each."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy.orm import Session

from service.rules.catalogue.venue import Sit04Params
from service.territories.models import HealthSite, Layer
from tests.rules.factories import good_siting, insert_cabin, outcome_of


def test_sit03_passes_for_a_pharmacy(db: Session):
    assert outcome_of(db, "SIT-03", insert_cabin(db))[0] == "pass"


def test_sit03_passes_for_a_venue_whose_finess_category_is_a_care_place(db: Session):
    layer = Layer(kind="health_site", vintage="test", source="test", synthetic=True)
    db.add(layer)
    db.flush()
    db.query(Layer).filter(Layer.kind == "health_site", Layer.is_current).update(
        {"is_current": False}
    )
    layer.is_current = True
    db.add(
        HealthSite(
            layer_id=layer.id, vintage="test", finess="750000001", name="Centre", category=124
        )
    )
    db.flush()
    cabin = insert_cabin(db, venue_kind="autre", venue_finess="750000001")
    outcome, evidence = outcome_of(db, "SIT-03", cabin)
    assert outcome == "pass"
    assert evidence["finess_category"] == 124


def test_sit03_fails_in_a_supermarket(db: Session):
    outcome, evidence = outcome_of(db, "SIT-03", insert_cabin(db, venue_kind="grande_surface"))
    assert outcome == "fail"
    assert "SIT-06" in evidence["reason"]


def test_sit03_is_unknown_without_venue_kind_nor_finess(db: Session):
    # Only a what-if candidate can lack a venue kind: the column accepts it in a SELECT only.
    from tests.rules.test_whatif import candidate_outcome

    assert candidate_outcome(db, "SIT-03", {"venue": {}})[0] == "unknown"


def test_sit04_fails_in_a_grande_surface(db: Session):
    outcome, evidence = outcome_of(db, "SIT-04", insert_cabin(db, venue_kind="grande_surface"))
    assert outcome == "fail"
    assert evidence["reason"] == "the venue kind is excluded"


def test_sit04_fails_on_an_excluded_naf_code_whatever_the_kind(db: Session):
    cabin = insert_cabin(db, venue_kind="autre", venue_naf="47.11F")
    outcome, evidence = outcome_of(db, "SIT-04", cabin)
    assert outcome == "fail"
    assert evidence["venue_naf"] == "47.11F"


def test_sit04_passes_for_a_pharmacy(db: Session):
    assert outcome_of(db, "SIT-04", insert_cabin(db, venue_naf="47.73Z"))[0] == "pass"


def test_sit04_is_unknown_for_an_other_venue_without_naf(db: Session):
    outcome, evidence = outcome_of(db, "SIT-04", insert_cabin(db, venue_kind="autre"))
    assert outcome == "unknown"
    assert "venue.naf" in evidence["missing"]


def test_sit04_kind_list_is_a_parameter(db: Session):
    cabin = insert_cabin(db, venue_kind="grande_surface")
    assert outcome_of(db, "SIT-04", cabin, excluded_kinds=["debit_de_boissons"])[0] == "pass"


def test_sit04_refuses_unknown_kinds_and_bad_naf_codes():
    with pytest.raises(ValidationError):
        Sit04Params(excluded_kinds=["supermarche"])
    with pytest.raises(ValidationError):
        Sit04Params(excluded_naf=["4711F"])


def test_sit06_does_not_apply_in_a_care_place(db: Session):
    assert outcome_of(db, "SIT-06", insert_cabin(db))[0] == "not_applicable"


def test_sit06_passes_with_a_dedicated_quiet_waiting_area(db: Session):
    cabin = insert_cabin(db, venue_kind="mairie_france_services")
    assert outcome_of(db, "SIT-06", cabin)[0] == "pass"


def test_sit06_fails_without_a_dedicated_waiting_area(db: Session):
    cabin = insert_cabin(
        db,
        venue_kind="mairie_france_services",
        siting=good_siting() | {"waiting_area_dedicated": False},
    )
    outcome, evidence = outcome_of(db, "SIT-06", cabin)
    assert outcome == "fail"
    assert evidence["waiting_area_dedicated"] is False


def test_sit06_is_unknown_when_the_waiting_area_is_not_described(db: Session):
    cabin = insert_cabin(
        db,
        venue_kind="entreprise",
        siting=good_siting() | {"commercial_solicitation_free": None},
    )
    outcome, evidence = outcome_of(db, "SIT-06", cabin)
    assert outcome == "unknown"
    assert evidence["missing"] == ["siting.commercial_solicitation_free"]
