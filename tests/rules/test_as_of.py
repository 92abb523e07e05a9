"""A cabin's compliance as of a date (`GET /v1/cabins/{id}/compliance?at=`): the date as the
registry writes dates, never after today, and the verdicts judged with the severities of the
rule set in force that day."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.cabins.models import Cabin
from service.compliance.models import CabinRegionChange
from service.rules.evaluator import evaluate_cabins
from service.rules.queries import end_of
from service.rules.schemas import RuleChange
from service.timespans import today
from tests.auth.factories import bearer, make_key, make_operator
from tests.rules.conftest import T0, T1, derive_and_publish
from tests.rules.factories import good_siting, insert_cabin, publish_ara_strict

LYON = {"lon": 4.8357, "lat": 45.7640, "declared_insee": "69123", "commune_insee": "69123"}


def workplace(db: Session, operator, **columns) -> object:
    """A cabin in a workplace: SIT-03 (a care place, a warning in 2026.1) fails, nothing else
    of SIT-01..08 does."""
    return insert_cabin(
        db,
        operator,
        venue_kind="entreprise",
        siting=good_siting() | {"assistance_modes": ["trained_staff"]},
        **columns,
    )


def as_of(client: TestClient, key: str, cabin, at: str | None = None):
    params = {"at": at} if at is not None else {}
    return client.get(f"/v1/cabins/{cabin}/compliance", params=params, headers=bearer(key))


def severities(body: dict) -> dict[str, str]:
    return {v["rule_code"]: v["severity"] for v in body["verdicts"]}


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
        reason = f"{day} is in the future; today is {today()}"
        assert response.json()["detail"] == f"The parameter `at` is not valid: {reason}."
        assert response.json()["errors"] == [{"field": "at", "reason": reason}]
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


def test_as_of_a_day_takes_the_severity_of_the_rule_set_then_in_force(
    db: Session, engine_rules, client: TestClient
):
    """A publication that only changes a rule's severity writes no history row (no outcome
    moved): the as-of answer took the severity of the last change, so on the day SIT-03
    became an error it still read `compliant` where the cabin's compliance said
    `non_compliant`."""
    operator = make_operator(db)
    cabin = workplace(db, operator)
    evaluate_cabins(db, [cabin], at=T0)
    derive_and_publish(db, "2025.2", T1, SIT_03=RuleChange(severity="error"))
    key = make_key(db, "operator", operator_id=operator)

    now = as_of(client, key, cabin).json()
    assert (now["compliance_status"], now["failing_errors"]) == ("non_compliant", ["SIT-03"])
    that_day = as_of(client, key, cabin, T1.date().isoformat()).json()
    assert that_day["rule_set_version"] == "2025.2"
    assert severities(that_day)["SIT-03"] == "error"
    for name in ("compliance_status", "failing_errors", "failing_warnings"):
        assert that_day[name] == now[name]

    before = as_of(client, key, cabin, (T1.date() - timedelta(days=1)).isoformat()).json()
    assert before["rule_set_version"] == "2025.1"
    assert severities(before)["SIT-03"] == "warning"
    assert (before["compliance_status"], before["failing_warnings"]) == ("compliant", ["SIT-03"])


def test_as_of_a_day_takes_the_severity_of_the_cabins_regional_profile(
    db: Session, engine_rules, client: TestClient
):
    operator = make_operator(db)
    lyon = workplace(db, operator, region_code="84", departement_code="69", **LYON)
    paris = workplace(db, operator)
    evaluate_cabins(db, [lyon, paris], at=T0)
    publish_ara_strict(db, at=T1)
    key = make_key(db, "operator", operator_id=operator)

    for cabin, severity, status in (
        (lyon, "error", "non_compliant"),
        (paris, "warning", "compliant"),
    ):
        now = as_of(client, key, cabin).json()
        that_day = as_of(client, key, cabin, T1.date().isoformat()).json()
        assert severities(now)["SIT-03"] == severities(that_day)["SIT-03"] == severity
        assert now["compliance_status"] == that_day["compliance_status"] == status


def test_as_of_a_day_takes_the_profile_of_the_region_the_cabin_was_in_that_day(
    db: Session, engine_rules, client: TestClient
):
    """A cabin of Lyon moved to Paris since: on the day the Auvergne-Rhône-Alpes profile made
    SIT-03 an error, it was in région 84, and the as-of answer took the région it is in now."""
    operator = make_operator(db)
    cabin = workplace(db, operator, region_code="84", departement_code="69", **LYON)
    evaluate_cabins(db, [cabin], at=T0)
    publish_ara_strict(db, at=T1)
    db.execute(
        update(Cabin)
        .where(Cabin.id == cabin)
        .values(region_code="11", departement_code="75", commune_insee="75056")
    )
    key = make_key(db, "operator", operator_id=operator)

    that_day = as_of(client, key, cabin, T1.date().isoformat()).json()
    assert (severities(that_day)["SIT-03"], that_day["compliance_status"]) == (
        "error",
        "non_compliant",
    )


def moved_at(db: Session, cabin, *moves: tuple[dict, datetime]) -> None:
    """The cabin moved (its codes set to each of `moves` in turn), each move recorded by the
    trigger as made at the instant given."""
    for codes, _when in moves:
        db.execute(update(Cabin).where(Cabin.id == cabin).values(**codes))
    recorded = db.scalars(
        select(CabinRegionChange).where(CabinRegionChange.cabin_id == cabin).order_by("id")
    ).all()
    assert len(recorded) == len(moves)
    for row, (_codes, when) in zip(recorded, moves, strict=True):
        row.changed_at = when
    db.flush()


IN_LYON = {"region_code": "84", "departement_code": "69", "commune_insee": "69123"}
IN_PARIS = {"region_code": "11", "departement_code": "75", "commune_insee": "75056"}


def test_a_regional_regulator_reads_as_of_a_day_the_cabins_of_its_region_that_day(
    db: Session, engine_rules, client: TestClient
):
    """A cabin of Lyon moved to Paris since: asked as of a day before the move, the
    Auvergne-Rhône-Alpes key got a 404 (its scope was judged by where the cabin is now) and
    the Île-de-France key was shown a day when the cabin was not in its région."""
    operator = make_operator(db)
    cabin = workplace(db, operator, region_code="84", departement_code="69", **LYON)
    evaluate_cabins(db, [cabin], at=T0)
    publish_ara_strict(db, at=T1)
    db.execute(update(Cabin).where(Cabin.id == cabin).values(**IN_PARIS))  # moved now
    ars_84 = make_key(db, "regulator", scope="region:84")
    ars_11 = make_key(db, "regulator", scope="region:11")
    that_day, now = T1.date().isoformat(), today().isoformat()
    db.commit()  # releases the test's savepoint: each 404 below rolls back only its own

    answer = as_of(client, ars_84, cabin, that_day)
    assert answer.status_code == 200, answer.text
    assert answer.json()["rule_set_version"] == "2025.3"
    # the profile of the région the cabin was in that day
    assert (severities(answer.json())["SIT-03"], answer.json()["compliance_status"]) == (
        "error",
        "non_compliant",
    )
    for key, day in ((ars_11, that_day), (ars_84, now), (ars_84, None)):
        answer = as_of(client, key, cabin, day)
        assert answer.status_code == 404, (day, answer.text)  # never a 403: no such cabin
        assert answer.headers["content-type"] == "application/problem+json"
    for day in (now, None):
        answer = as_of(client, ars_11, cabin, day)
        assert answer.status_code == 200, answer.text
    answer = as_of(client, ars_11, cabin, now)
    assert (severities(answer.json())["SIT-03"], answer.json()["compliance_status"]) == (
        "warning",
        "compliant",
    )


def test_the_region_of_a_day_is_the_one_the_last_move_before_its_end_entered(
    db: Session, engine_rules, client: TestClient
):
    """A cabin of Paris moved to Lyon on D1, back to Paris at midnight starting D2: each day is
    answered for the région the cabin was in at its end, for scope and profile alike; a move
    at midnight is the next day's."""
    operator = make_operator(db)
    cabin = workplace(db, operator)
    evaluate_cabins(db, [cabin], at=T0)
    publish_ara_strict(db, at=T1)
    d1, d2 = T1.date() + timedelta(days=1), T1.date() + timedelta(days=5)
    moved_at(db, cabin, (IN_LYON, T1 + timedelta(days=1)), (IN_PARIS, end_of(d2 - timedelta(1))))
    keys = {
        "84": make_key(db, "regulator", scope="region:84"),
        "11": make_key(db, "regulator", scope="region:11"),
    }
    national = make_key(db, "regulator", scope="national")
    own = make_key(db, "operator", operator_id=operator)
    db.commit()  # releases the test's savepoint: each 404 below rolls back only its own

    for day, region, severity in (
        (T1.date(), "11", "warning"),
        (d1, "84", "error"),
        (d2 - timedelta(days=1), "84", "error"),
        (d2, "11", "warning"),
        (today(), "11", "warning"),
    ):
        for code, key in keys.items():
            answer = as_of(client, key, cabin, day.isoformat())
            assert answer.status_code == (200 if code == region else 404), (day, code)
        for key in (national, own):  # their scope does not follow the région
            answer = as_of(client, key, cabin, day.isoformat())
            assert answer.status_code == 200, (day, answer.text)
            assert severities(answer.json())["SIT-03"] == severity, day
