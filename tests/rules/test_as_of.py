"""A cabin's compliance as of a date (`GET /v1/cabins/{id}/compliance?at=`): the date as the
registry writes dates, never after today."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from service.timespans import today
from tests.auth.factories import bearer, make_key, make_operator
from tests.rules.factories import insert_cabin


def as_of(client: TestClient, key: str, cabin, at: str | None = None):
    params = {"at": at} if at is not None else {}
    return client.get(f"/v1/cabins/{cabin}/compliance", params=params, headers=bearer(key))


def test_a_date_after_today_is_refused_naming_at(db: Session, client: TestClient):
    """The last day of the calendar answered 500 (its end overflowed); a day to come was
    answered with today's verdicts, as if the registry knew that day's rules."""
    operator = make_operator(db)
    cabin = insert_cabin(db, operator)
    key = make_key(db, "operator", operator_id=operator)
    db.commit()  # releases the test's savepoint: each 400 below rolls back only its own
    tomorrow = (today() + timedelta(days=1)).isoformat()
    for day in ("9999-12-31", tomorrow):
        response = as_of(client, key, cabin, day)
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == "application/problem+json"
        [error] = response.json()["errors"]
        assert error["field"] == "at"
        assert f"{day} is in the future" in error["reason"]
    assert as_of(client, key, cabin, today().isoformat()).status_code == 200


def test_a_date_written_day_month_year_is_told_its_form(db: Session, client: TestClient):
    operator = make_operator(db)
    cabin = insert_cabin(db, operator)
    key = make_key(db, "operator", operator_id=operator)
    db.commit()  # releases the test's savepoint: each 400 below rolls back only its own
    response = as_of(client, key, cabin, "23/11/2025")
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error == {
        "field": "at",
        "reason": "must be a date written YYYY-MM-DD: 23/11/2025 is written 2025-11-23"
        " if it is day/month/year",
    }
    # a number is not read as seconds since 1970
    [error] = as_of(client, key, cabin, "20251123").json()["errors"]
    assert error["reason"] == "must be a date written YYYY-MM-DD, e.g. 2026-01-15"
