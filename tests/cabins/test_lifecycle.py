"""The lifecycle: draft → declared → active ⇄ suspended → decommissioned; anything else is a
409 naming the allowed transitions; DELETE decommissions and keeps the row."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from service import timespans
from service.cabins.models import Cabin
from service.cabins.vocabulary import STATUSES, TRANSITIONS
from tests.auth.fixtures import Callers
from tests.cabins.factories import cabin_body

PATH_TO = {
    "draft": [],
    "declared": ["declared"],
    "active": ["declared", "active"],
    "suspended": ["declared", "active", "suspended"],
    "decommissioned": ["decommissioned"],
}


def cabin_in(client: TestClient, callers: Callers, status: str) -> str:
    created = client.post("/v1/cabins", json=cabin_body(), headers=callers.operator).json()
    for step in PATH_TO[status]:
        response = client.post(
            f"/v1/cabins/{created['id']}/transitions", json={"to": step}, headers=callers.operator
        )
        assert response.status_code == 200, response.text
    return str(created["id"])


LEGAL = [(src, dst) for src in STATUSES for dst in TRANSITIONS[src]]
ILLEGAL = [(src, dst) for src in STATUSES for dst in STATUSES if dst not in TRANSITIONS[src]]


@pytest.mark.parametrize(("source", "target"), LEGAL)
def test_legal_transition(client: TestClient, callers: Callers, source: str, target: str) -> None:
    cabin_id = cabin_in(client, callers, source)
    response = client.post(
        f"/v1/cabins/{cabin_id}/transitions",
        json={"to": target, "reason": "test"},
        headers=callers.operator,
    )
    assert response.status_code == 200, response.text
    lifecycle = response.json()["lifecycle"]
    assert lifecycle["status"] == target
    today = timespans.today().isoformat()
    column = {
        "declared": "declared_date",
        "active": "service_start_date",
        "suspended": "suspended_date",
        "decommissioned": "decommissioned_date",
    }[target]
    assert lifecycle[column] is not None
    if target == "active" and source == "suspended":
        assert lifecycle["suspended_date"] is None
    if source == "draft":
        assert lifecycle[column] == today


@pytest.mark.parametrize(("source", "target"), ILLEGAL)
def test_illegal_transition_is_409_naming_the_allowed_ones(
    client: TestClient, callers: Callers, source: str, target: str
) -> None:
    cabin_id = cabin_in(client, callers, source)
    response = client.post(
        f"/v1/cabins/{cabin_id}/transitions", json={"to": target}, headers=callers.operator
    )
    assert response.status_code == 409
    body = response.json()
    assert body["allowed"] == list(TRANSITIONS[source])
    for allowed in TRANSITIONS[source]:
        assert allowed in body["detail"]
    current = client.get(f"/v1/cabins/{cabin_id}", headers=callers.operator).json()
    assert current["lifecycle"]["status"] == source


def test_transition_dated_in_the_future_is_422(client: TestClient, callers: Callers) -> None:
    cabin_id = cabin_in(client, callers, "draft")
    tomorrow = (timespans.today() + timedelta(days=1)).isoformat()
    response = client.post(
        f"/v1/cabins/{cabin_id}/transitions",
        json={"to": "declared", "date": tomorrow},
        headers=callers.operator,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "date"


def test_transition_keeps_a_given_past_date(client: TestClient, callers: Callers) -> None:
    cabin_id = cabin_in(client, callers, "draft")
    response = client.post(
        f"/v1/cabins/{cabin_id}/transitions",
        json={"to": "declared", "date": "2026-02-01"},
        headers=callers.operator,
    )
    assert response.json()["lifecycle"]["declared_date"] == "2026-02-01"


def test_transition_with_stale_if_match_is_412(client: TestClient, callers: Callers) -> None:
    cabin_id = cabin_in(client, callers, "declared")  # version 2
    response = client.post(
        f"/v1/cabins/{cabin_id}/transitions",
        json={"to": "active"},
        headers={**callers.operator, "If-Match": '"1"'},
    )
    assert response.status_code == 412


def test_delete_decommissions_and_keeps_the_cabin(
    client: TestClient, callers: Callers, db: Session
) -> None:
    cabin_id = cabin_in(client, callers, "active")
    response = client.delete(f"/v1/cabins/{cabin_id}?reason=closed", headers=callers.operator)
    assert response.status_code == 200
    assert response.json()["lifecycle"]["status"] == "decommissioned"
    row = db.get(Cabin, cabin_id)
    assert row is not None and row.status == "decommissioned"
    again = client.delete(f"/v1/cabins/{cabin_id}", headers=callers.operator)
    assert again.status_code == 409
    history = client.get(f"/v1/cabins/{cabin_id}/history", headers=callers.operator).json()
    assert history["items"][-1]["reason"] == "closed"


def test_a_decommissioned_cabin_cannot_be_patched(client: TestClient, callers: Callers) -> None:
    cabin_id = cabin_in(client, callers, "decommissioned")
    response = client.patch(
        f"/v1/cabins/{cabin_id}",
        json={"venue": {"name": "Nouveau"}},
        headers={**callers.operator, "If-Match": "*"},
    )
    assert response.status_code == 409


def move(client: TestClient, callers: Callers, cabin_id: str, to: str, day: str | None = None):  # type: ignore[no-untyped-def]
    body = {"to": to} if day is None else {"to": to, "date": day}
    return client.post(f"/v1/cabins/{cabin_id}/transitions", json=body, headers=callers.operator)


@pytest.mark.parametrize(
    ("steps", "to", "day", "precedes"),
    [
        ([("declared", "2024-05-01")], "active", "2020-01-01", "declared_date 2024-05-01"),
        (
            [("declared", "2024-05-01"), ("active", "2024-06-01")],
            "suspended",
            "2024-05-15",
            "service_start_date 2024-06-01",
        ),
        (
            [("declared", "2024-05-01"), ("active", "2024-06-01"), ("suspended", "2025-01-10")],
            "active",
            "2025-01-09",
            "suspended_date 2025-01-10",
        ),
        (
            [("declared", "2024-05-01"), ("active", "2024-06-01")],
            "decommissioned",
            "2024-05-31",
            "service_start_date 2024-06-01",
        ),
        ([("declared", "2024-05-01")], "decommissioned", "2024-04-30", "declared_date 2024-05-01"),
    ],
)
def test_a_transition_dated_before_an_earlier_lifecycle_date_is_422(
    client: TestClient,
    callers: Callers,
    steps: list[tuple[str, str]],
    to: str,
    day: str,
    precedes: str,
) -> None:
    cabin_id = cabin_in(client, callers, "draft")
    for step, step_day in steps:
        assert move(client, callers, cabin_id, step, step_day).status_code == 200
    before = client.get(f"/v1/cabins/{cabin_id}", headers=callers.operator).json()
    response = move(client, callers, cabin_id, to, day)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    (error,) = response.json()["errors"]
    assert error["field"] == "date"
    assert precedes in error["reason"] and day in error["reason"]
    after = client.get(f"/v1/cabins/{cabin_id}", headers=callers.operator).json()
    assert after["version"] == before["version"]
    assert after["lifecycle"] == before["lifecycle"]


def test_a_transition_dated_the_same_day_as_the_previous_one_is_accepted(
    client: TestClient, callers: Callers
) -> None:
    cabin_id = cabin_in(client, callers, "draft")
    for step in ("declared", "active", "suspended", "active", "decommissioned"):
        response = move(client, callers, cabin_id, step, "2025-03-03")
        assert response.status_code == 200, (step, response.text)


def test_resuming_a_suspended_cabin_keeps_its_date_in_the_history(
    client: TestClient, callers: Callers
) -> None:
    cabin_id = cabin_in(client, callers, "draft")
    for step, day in (("declared", "2024-05-01"), ("active", "2024-06-01")):
        assert move(client, callers, cabin_id, step, day).status_code == 200
    assert move(client, callers, cabin_id, "suspended", "2025-01-10").status_code == 200
    response = move(client, callers, cabin_id, "active", "2025-02-20")
    assert response.status_code == 200, response.text
    lifecycle = response.json()["lifecycle"]
    assert lifecycle["service_start_date"] == "2024-06-01"  # the first opening stays
    assert lifecycle["suspended_date"] is None
    history = client.get(f"/v1/cabins/{cabin_id}/history", headers=callers.operator).json()
    last = history["items"][-1]["diff"]
    assert last["resumed_date"] == [None, "2025-02-20"]
    assert last["suspended_date"] == ["2025-01-10", None]

    # The resumption is a lifecycle date too: a later suspension or decommission cannot
    # precede it, and a second resumption shows the first as its old value.
    early = move(client, callers, cabin_id, "suspended", "2025-02-19")
    assert early.status_code == 422
    assert "resumed_date 2025-02-20" in early.json()["errors"][0]["reason"]
    assert move(client, callers, cabin_id, "suspended", "2025-03-01").status_code == 200
    assert move(client, callers, cabin_id, "active", "2025-03-05").status_code == 200
    history = client.get(f"/v1/cabins/{cabin_id}/history", headers=callers.operator).json()
    assert history["items"][-1]["diff"]["resumed_date"] == ["2025-02-20", "2025-03-05"]
    late = move(client, callers, cabin_id, "decommissioned", "2025-03-04")
    assert late.status_code == 422
    assert "resumed_date 2025-03-05" in late.json()["errors"][0]["reason"]


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("01/02/2026", "must be a date written YYYY-MM-DD: 01/02/2026 is written 2026-02-01"),
        ("2026-13-01", "2026-13-01 is not a day of the calendar"),
        ("demain", "must be a date written YYYY-MM-DD, e.g. 2026-01-15"),
    ],
)
def test_a_transition_date_not_written_yyyy_mm_dd_says_the_form_it_needs(
    client: TestClient, callers: Callers, given: str, reason: str
) -> None:
    cabin_id = cabin_in(client, callers, "draft")
    response = client.post(
        f"/v1/cabins/{cabin_id}/transitions",
        json={"to": "declared", "date": given},
        headers=callers.operator,
    )
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["field"] == "date"
    assert error["reason"].startswith(reason)
    read = client.get(f"/v1/cabins/{cabin_id}", headers=callers.operator).json()
    assert read["lifecycle"]["status"] == "draft"
