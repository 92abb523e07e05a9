"""The engine's evaluation date is the write path's today (`timespans.today`, La Réunion's
date): a date a record was allowed to hold between 20:00 and 24:00 UTC is not judged to be in
the future by a rule, on a write, in a full pass or in the what-if check."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session

from service import timespans
from service.rules import evaluator, whatif
from service.rules.models import Verdict
from service.rules.schemas import SitingCheck
from tests.rules.catalogue.factories import make_cabin
from tests.rules.catalogue.test_provider import _company
from tests.rules.conftest import derive_and_publish

# 21:30 UTC on 20 November: already 21 November in La Réunion (UTC+4)
LATE = datetime(2026, 11, 20, 21, 30, tzinfo=UTC)
REUNION_TODAY = date(2026, 11, 21)


@pytest.fixture
def rules_in_force(db: Session) -> None:
    derive_and_publish(db, "2026.80", datetime(2026, 1, 1, tzinfo=UTC))


def test_the_evaluation_date_is_the_write_paths_today() -> None:
    assert timespans.today(LATE) == REUNION_TODAY != LATE.date()


def _cabin(db: Session) -> uuid.UUID:
    confirmed = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)  # 30 minutes earlier
    return make_cabin(
        db,
        provider=_company(agrement_start_date=REUNION_TODAY.isoformat()),
        provider_confirmed_at=confirmed,
        fees_confirmed_at=confirmed,
    )


def _verdict(db: Session, cabin_id: uuid.UUID, code: str) -> Verdict:
    db.expire_all()
    found = db.get(Verdict, (cabin_id, code))
    assert found is not None
    return found


@pytest.mark.parametrize("path", ["write", "full pass"])
def test_an_agrement_starting_today_in_la_reunion_is_valid_at_2130_utc(
    db: Session, rules_in_force: None, path: str
) -> None:
    cabin_id = _cabin(db)
    if path == "write":
        evaluator.evaluate_cabins(db, [cabin_id], at=LATE)
    else:
        evaluator.reevaluate_all(db, at=LATE)
    sit14 = _verdict(db, cabin_id, "SIT-14")
    assert sit14.outcome == "pass", sit14.evidence
    assert sit14.evidence["agrement"]["start_date"] == "2026-11-21"
    # a block confirmed half an hour ago is 0 days old, on the same calendar
    provider = _verdict(db, cabin_id, "SIT-20").evidence["blocks"]["provider"]
    assert provider == {"outcome": "pass", "confirmed_on": "2026-11-21", "age_days": 0}


def test_the_what_if_check_judges_on_the_same_date(
    db: Session, rules_in_force: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(whatif, "now", lambda: LATE)
    body: dict[str, Any] = {
        "location": {"lon": 2.3522, "lat": 48.8566, "declared_insee": "75056"},
        "provider": _company(agrement_start_date=REUNION_TODAY.isoformat()),
    }
    result = whatif.check(db, SitingCheck.model_validate(body))
    sit14 = next(v for v in result["verdicts"] if v["rule_code"] == "SIT-14")
    assert sit14["outcome"] == "pass", sit14["evidence"]
