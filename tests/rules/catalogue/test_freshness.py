"""SIT-20: each block confirmed within `max_age_days` of the evaluation date."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session

from tests.rules.catalogue.factories import make_cabin, run_rule

AT = date(2026, 11, 1)


def _confirmed(days_ago: int) -> datetime:
    return datetime(2026, 11, 1, 10, tzinfo=UTC) - timedelta(days=days_ago)


def _all(days_ago: int) -> dict[str, datetime]:
    return {
        f"{b}_confirmed_at": _confirmed(days_ago)
        for b in ("siting", "declarations", "care_links", "provider", "fees", "accessibility")
    }


def test_sit20_passes_when_every_block_is_recent(db: Session) -> None:
    cabin = make_cabin(
        db,
        **_all(30),
        provider={"kind": "platform_only"},
        fees={"sector": "sector_1"},
        care_links=[{"kind": "pharmacie", "finess": "750000001"}],
    )
    outcome, evidence = run_rule(db, "SIT-20", [cabin], at=AT)[cabin]
    assert outcome == "pass"
    assert evidence["blocks"]["fees"] == {
        "outcome": "pass",
        "confirmed_on": "2026-10-02",
        "age_days": 30,
    }
    assert evidence["max_age_days"] == 365


def test_sit20_fails_when_one_block_is_stale(db: Session) -> None:
    cabin = make_cabin(db, **{**_all(10), "accessibility_confirmed_at": _confirmed(400)})
    outcome, evidence = run_rule(db, "SIT-20", [cabin], at=AT)[cabin]
    assert outcome == "fail"
    assert evidence["blocks"]["accessibility"]["age_days"] == 400
    # absent blocks (no provider, no fees, no care links) are not judged here
    assert set(evidence["blocks"]) == {"siting", "declarations", "accessibility"}
    assert run_rule(db, "SIT-20", [cabin], at=AT, max_age_days=500)[cabin][0] == "pass"


def test_sit20_is_unknown_when_a_block_was_never_confirmed(db: Session) -> None:
    cabin = make_cabin(db, **{**_all(10), "declarations_confirmed_at": None})
    outcome, evidence = run_rule(db, "SIT-20", [cabin], at=AT)[cabin]
    assert outcome == "unknown"
    assert evidence["blocks"]["declarations"] == {"outcome": "unknown"}
