"""SIT-01 (prior declaration to the ARS) and SIT-02 (CPAM and CPTS informed): a passing, a
failing and an unknown case each, on small constructed layers."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from service.territories.models import Cpts, Layer
from tests.rules.factories import insert_cabin, outcome_of


def test_sit01_passes_with_a_declaration_before_opening(db: Session):
    outcome, evidence = outcome_of(db, "SIT-01", insert_cabin(db))
    assert outcome == "pass"
    assert evidence["addressee_region"] == "11"


def test_sit01_fails_without_an_ars_declaration(db: Session):
    cabin = insert_cabin(db, ars_declaration_date=None, ars_declaration_reference=None)
    outcome, evidence = outcome_of(db, "SIT-01", cabin)
    assert outcome == "fail"
    assert evidence["reason"] == "no ARS declaration is recorded"
    assert "declarations.ars_declaration_date" in evidence["missing"]


def test_sit01_fails_when_declared_too_late_for_the_lead_time(db: Session):
    cabin = insert_cabin(db, ars_declaration_date=date(2026, 2, 25))
    assert outcome_of(db, "SIT-01", cabin)[0] == "pass"
    outcome, evidence = outcome_of(db, "SIT-01", cabin, declaration_lead_days=10)
    assert outcome == "fail"
    assert evidence["latest_allowed_date"] == "2026-02-19"


def test_sit01_is_unknown_when_the_region_of_the_cabin_is_unknown(db: Session):
    cabin = insert_cabin(db, region_code=None, commune_insee=None, departement_code=None)
    assert outcome_of(db, "SIT-01", cabin)[0] == "unknown"


def test_sit01_does_not_apply_to_a_decommissioned_cabin(db: Session):
    cabin = insert_cabin(db, status="decommissioned", ars_declaration_date=None)
    assert outcome_of(db, "SIT-01", cabin)[0] == "not_applicable"


def _cpts_layer(db: Session, members: list[str]) -> None:
    """A current CPTS layer (the test's own: any current one is set aside first)."""
    db.query(Layer).filter(Layer.kind == "cpts", Layer.is_current).update({"is_current": False})
    layer = Layer(kind="cpts", vintage="test", source="test", synthetic=True, is_current=True)
    db.add(layer)
    db.flush()
    db.add(
        Cpts(
            layer_id=layer.id,
            vintage="test",
            cpts_id="CPTS-T1",
            name="CPTS du test",
            member_insee=members,
        )
    )
    db.flush()


def test_sit02_passes_when_cpam_and_the_covering_cpts_were_informed(db: Session):
    _cpts_layer(db, ["75056"])
    outcome, evidence = outcome_of(db, "SIT-02", insert_cabin(db))
    assert outcome == "pass"
    assert evidence["cpts_coverage"] == "covered"
    assert evidence["covering_cpts"][0]["id"] == "CPTS-T1"


def test_sit02_fails_when_the_covering_cpts_was_not_informed(db: Session):
    _cpts_layer(db, ["75056"])
    outcome, evidence = outcome_of(db, "SIT-02", insert_cabin(db, cpts_informed_date=None))
    assert outcome == "fail"
    assert "CPTS" in evidence["reason"]


def test_sit02_fails_without_cpam_information(db: Session):
    outcome, evidence = outcome_of(db, "SIT-02", insert_cabin(db, cpam_informed_date=None))
    assert outcome == "fail"
    assert evidence["reason"] == "the CPAM has not been informed"


def test_sit02_passes_outside_any_cpts_territory_without_cpts_information(db: Session):
    _cpts_layer(db, ["69123"])
    outcome, evidence = outcome_of(db, "SIT-02", insert_cabin(db, cpts_informed_date=None))
    assert outcome == "pass"
    assert evidence["cpts_coverage"] == "not_covered"


def test_sit02_is_unknown_without_a_cpts_layer_nor_cpts_information(db: Session):
    db.query(Layer).filter(Layer.kind == "cpts", Layer.is_current).update({"is_current": False})
    outcome, evidence = outcome_of(db, "SIT-02", insert_cabin(db, cpts_informed_date=None))
    assert outcome == "unknown"
    assert "declarations.cpts_informed_date" in evidence["missing"]
