"""`failing_since=` as design.md §6 publishes it: an instant or an interval in the form of OGC
API's `datetime` (both ends included, a date standing for its whole day, `..` open), applied
wherever the verdict filters apply; bad forms, empty intervals and a mix with
`failing_since_before` / `failing_since_after` are a 400 naming `failing_since`."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from service.rules.models import Verdict
from tests.compliance.conftest import World

# a84 fails since 2026-03-01T00:00:00Z, b11 since 2026-06-01T00:00:00Z


def listed(client, world: World, role: str = "national", **params: str) -> set[str]:  # type: ignore[no-untyped-def]
    r = client.get("/v1/compliance/cabins", params=params, headers=world.keys[role])
    assert r.status_code == 200, r.text
    names = {str(c.id): n for n, c in world.cabins.items()}
    return {names[item["id"]] for item in r.json()["items"]}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-01", {"a84"}),  # during that day
        ("2026-03-02", set()),
        ("20260301", {"a84"}),  # the basic form of the same date
        ("2026-03-01T00:00:00Z", {"a84"}),  # that instant
        ("2026-03-01T00:00:01Z", set()),
        ("2026-03-01T01:00:00+01:00", {"a84"}),  # the same instant, another offset
        ("2026-03-01/..", {"a84", "b11"}),
        ("2026-03-02/..", {"b11"}),
        ("2026-03-01T00:00:01Z/..", {"b11"}),
        ("../2026-03-01", {"a84"}),  # the end day is included, as /ogc's datetime has it
        ("../2026-02-28", set()),
        ("../2026-03-01T00:00:00Z", {"a84"}),  # a date-time end is included too
        ("../2026-02-28T23:59:59.999999Z", set()),
        ("/2026-05-31", {"a84"}),  # an empty end is open, as OGC API allows
        ("2026-05-31/", {"b11"}),
        ("2026-01-01/2026-05-31", {"a84"}),
        ("2026-01-01/2026-06-01", {"a84", "b11"}),
        ("2026-03-01T12:00:00Z/2026-06-01", {"b11"}),
        ("2026-06-01T00:00:00Z/2026-06-01T00:00:00Z", {"b11"}),
    ],
)
def test_failing_since_selects_the_cabins_failing_since_that_instant_or_interval(
    client, world: World, value: str, expected: set[str]
) -> None:
    assert listed(client, world, failing_since=value) == expected


def test_a_date_time_stands_for_its_last_written_digit(client, db: Session, world: World) -> None:
    """The exports write failing_since to the second: that value, given back, finds the
    cabin failing since a fraction of that second."""
    a84 = world.cabins["a84"]
    db.execute(
        update(Verdict)
        .where(Verdict.cabin_id == a84.id, Verdict.outcome == "fail")
        .values(failing_since=Verdict.failing_since + timedelta(seconds=59, milliseconds=500))
    )
    db.flush()
    r = client.get(
        "/v1/compliance/export.csv", params={"region": "84"}, headers=world.keys["national"]
    )
    (written,) = {row["failing_since"] for row in csv.DictReader(io.StringIO(r.text))} - {""}
    assert written == "2026-03-01T00:00:59Z"
    assert listed(client, world, failing_since=written) == {"a84"}
    assert listed(client, world, failing_since="../2026-03-01T00:00:59Z") == {"a84"}
    assert listed(client, world, failing_since="2026-03-01T00:00Z") == {"a84"}  # the minute
    assert listed(client, world, failing_since="20260301") == {"a84"}  # a date, basic form
    assert listed(client, world, failing_since="2026-03-01T00:00:59.4Z") == set()
    assert listed(client, world, failing_since="2026-03-01T00:00:59.5Z") == {"a84"}


def test_failing_since_keeps_the_scope_and_combines_with_the_other_filters(
    client, world: World
) -> None:
    assert listed(client, world, "ars_84", failing_since="2026-01-01/..") == {"a84"}
    assert listed(client, world, failing_since="2026-01-01/..", region="11") == {"b11"}
    assert listed(client, world, failing_since="2026-01-01/..", rule=world.codes[4]) == {"b11"}


def test_the_summary_and_the_exports_apply_failing_since(client, world: World) -> None:
    params = {"failing_since": "2026-05-01/.."}
    headers = world.keys["national"]
    summary = client.get("/v1/compliance/summary", params=params, headers=headers).json()
    assert summary["total"]["cabins"] == 1
    assert [g["key"] for g in summary["groups"]] == ["11"]
    by_rule = client.get(
        "/v1/compliance/summary", params={**params, "by": "rule"}, headers=headers
    ).json()
    assert by_rule["total"]["cabins"] == 1
    r = client.get("/v1/compliance/export.csv", params=params, headers=headers)
    assert [row["id"] for row in csv.DictReader(io.StringIO(r.text))] == [
        str(world.cabins["b11"].id)
    ]
    r = client.get("/v1/compliance/export.geojson", params=params, headers=headers)
    assert [f["id"] for f in r.json()["features"]] == [str(world.cabins["b11"].id)]
    r = client.get("/v1/compliance/export.xlsx", params=params, headers=headers)
    assert r.status_code == 200


def test_the_two_earlier_parameters_still_work(client, world: World) -> None:
    assert listed(client, world, failing_since_before="2026-03-01T00:00:01Z") == {"a84"}
    assert listed(client, world, failing_since_after="2026-03-01T00:00:01Z") == {"b11"}


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"failing_since": ""}, "OGC API's datetime"),
        ({"failing_since": ".."}, "OGC API's datetime"),
        ({"failing_since": "yesterday"}, "OGC API's datetime"),
        ({"failing_since": "2026-13-01/.."}, "OGC API's datetime"),
        ({"failing_since": "2026-03-01/2026-04-01/2026-05-01"}, "OGC API's datetime"),
        ({"failing_since": "../.."}, "at least one end"),
        # an offset's + left unencoded reaches the service as a space
        ({"failing_since": "2026-03-01T08:00:00 01:00/.."}, "write the offset's + as %2B"),
        ({"failing_since": "../2026-03-01T08:00 0100"}, "write the offset's + as %2B"),
        ({"failing_since": "/"}, "at least one end"),
        ({"failing_since": "2026-03-02/2026-03-01"}, "empty"),
        ({"failing_since": "2026-03-02T00:00:00Z/2026-03-01"}, "empty"),
        (
            {"failing_since": "2026-03-01T00:00:01Z/2026-03-01T00:00:00Z"},
            "empty",
        ),
        ({"failing_since": "2026-03-01/..", "failing_since_after": "2026-01-01"}, "not both"),
        ({"failing_since": "2026-03-01/..", "failing_since_before": "2026-09-01"}, "not both"),
    ],
)
def test_a_bad_failing_since_is_400_naming_it(
    client, world: World, params: dict[str, str], reason: str
) -> None:
    for path in (
        "/v1/compliance/cabins",
        "/v1/compliance/summary",
        "/v1/compliance/export.csv",
        "/v1/compliance/export.geojson",
        "/v1/compliance/export.xlsx",
    ):
        r = client.get(path, params=params, headers=world.keys["national"])
        assert r.status_code == 400, (path, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        (error,) = r.json()["errors"]
        assert error["field"] == "failing_since"
        assert reason in error["reason"], error["reason"]
        assert "`failing_since`" in r.json()["detail"]


def test_the_last_day_python_holds_is_no_500(client, world: World) -> None:
    assert listed(client, world, failing_since="../9999-12-31") == {"a84", "b11"}
    assert listed(client, world, failing_since="9999-12-31") == set()
