"""SIT-14: a company employing doctors holds an agrément valid on the evaluation date; the
provider SIRET holds its Luhn key."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from tests.rules.catalogue.factories import make_cabin, run_rule, valid_siret

AT = date(2026, 11, 1)


def _company(**agrement: str) -> dict[str, str]:
    return {
        "name": "Télé-Santé SAS",
        "kind": "company_employing_doctors",
        "siret": valid_siret(),
        "agrement_number": "AGR-2025-012",
        **agrement,
    }


def test_sit14_passes_with_a_valid_agrement_and_siret(db: Session) -> None:
    cabin = make_cabin(db, provider=_company(agrement_start_date="2025-06-01"))
    platform = make_cabin(db, provider={"kind": "platform_only", "siret": valid_siret()})
    verdicts = run_rule(db, "SIT-14", [cabin, platform], at=AT)
    outcome, evidence = verdicts[cabin]
    assert outcome == "pass"
    # no end date declared: start + agrement_validity_years
    assert evidence["agrement"]["end_date"] == "2027-06-01"
    assert evidence["agrement"]["end_from"] == "start + validity_years"
    assert verdicts[platform][0] == "pass"
    assert "agrement" not in verdicts[platform][1]


def test_sit14_fails_with_an_expired_or_missing_agrement_or_a_bad_siret(db: Session) -> None:
    expired = make_cabin(db, provider=_company(agrement_start_date="2024-01-01"))
    no_number = make_cabin(
        db, provider={"kind": "company_employing_doctors", "siret": valid_siret()}
    )
    bad_siret = make_cabin(db, provider={"kind": "platform_only", "siret": "12345678901234"})
    verdicts = run_rule(db, "SIT-14", [expired, no_number, bad_siret], at=AT)
    assert verdicts[expired][0] == "fail"
    assert verdicts[expired][1]["agrement"]["end_date"] == "2026-01-01"
    assert verdicts[no_number][0] == "fail"
    assert verdicts[bad_siret][0] == "fail"
    assert verdicts[bad_siret][1]["siret"] == {
        "value": "12345678901234",
        "valid": False,
        "outcome": "fail",
    }
    # two years is a parameter: three years keep the 2024 agrément valid
    assert run_rule(db, "SIT-14", [expired], at=AT, agrement_validity_years=3)[expired][0] == (
        "pass"
    )


def test_sit14_is_unknown_without_provider_or_agrement_dates(db: Session) -> None:
    none = make_cabin(db, provider=None)
    undated = make_cabin(db, provider=_company())
    verdicts = run_rule(db, "SIT-14", [none, undated], at=AT)
    assert verdicts[none] == (
        "unknown",
        {"missing": ["provider"], "siret": {"outcome": "unknown"}, "sirene_checked": False},
    )
    assert verdicts[undated][0] == "unknown"
    assert verdicts[undated][1]["missing"] == ["provider.agrement_start_date"]


def test_sit14_siret_key_agrees_with_the_reference_implementation(db: Session) -> None:
    from stdnum.fr import siret

    # La Poste: head office keyed with Luhn, other establishments by digit sum (multiple of 5)
    samples = [
        "35600000000048",
        "35600000012345",
        "35600000012346",
        valid_siret(),
        valid_siret(),
        "73282932000074",
        "73282932000075",
    ]
    ids = [make_cabin(db, provider={"kind": "platform_only", "siret": s}) for s in samples]
    verdicts = run_rule(db, "SIT-14", ids, at=AT)
    for sample, cabin in zip(samples, ids, strict=True):
        assert verdicts[cabin][1]["siret"]["valid"] is siret.is_valid(sample), sample
