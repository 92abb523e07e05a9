"""SIT-15: the fee notice is complete, shown on site, optional services flagged optional, and
no access fee above the cap for agreed companies."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from tests.rules.catalogue.factories import make_cabin, run_rule


def _notice(**changes: Any) -> dict[str, Any]:
    notice: dict[str, Any] = {
        "base_fee_eur": 30,
        "sector": "sector_1",
        "depassements_possible": False,
        "optional_services": [{"name": "compte rendu imprimé", "price_eur": 2, "optional": True}],
        "venue_access_fee_eur": 0,
        "info_url": "https://example.org/tarifs",
        "shown_on_site": True,
    }
    notice.update(changes)
    return {k: v for k, v in notice.items() if v is not None}


def test_sit15_passes_with_a_complete_notice_shown_on_site(db: Session) -> None:
    cabin = make_cabin(db, fees=_notice())
    outcome, evidence = run_rule(db, "SIT-15", [cabin])[cabin]
    assert outcome == "pass"
    assert evidence["missing_fields"] == []


def test_sit15_fails_on_an_incomplete_or_misleading_notice(db: Session) -> None:
    absent = make_cabin(db, fees=None)
    incomplete = make_cabin(db, fees=_notice(sector=None, info_url=None))
    unflagged = make_cabin(
        db,
        fees=_notice(optional_services=[{"name": "ordonnance", "price_eur": 5, "optional": False}]),
    )
    hidden = make_cabin(db, fees=_notice(shown_on_site=False))
    agreed = make_cabin(
        db, fees=_notice(venue_access_fee_eur=3), provider={"kind": "company_employing_doctors"}
    )
    verdicts = run_rule(db, "SIT-15", [absent, incomplete, unflagged, hidden, agreed])
    assert {k: v[0] for k, v in verdicts.items()} == dict.fromkeys(verdicts, "fail")
    assert verdicts[absent][1]["missing"] == ["fees"]
    assert verdicts[incomplete][1]["missing_fields"] == ["sector", "info_url"]
    assert verdicts[unflagged][1]["services_not_flagged_optional"] == ["ordonnance"]
    assert verdicts[agreed][1]["max_extra_fee_eur_for_agreed"] == 0


def test_sit15_is_unknown_when_display_on_site_is_not_stated(db: Session) -> None:
    cabin = make_cabin(db, fees=_notice(shown_on_site=None))
    outcome, evidence = run_rule(db, "SIT-15", [cabin])[cabin]
    assert (outcome, evidence["missing"]) == ("unknown", ["fees.shown_on_site"])
