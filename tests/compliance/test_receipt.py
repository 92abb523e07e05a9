"""POST /v1/compliance/cabins/{id}/declaration-receipt: the ARS records a received
declaration; it is written, versioned and audited, in its région only."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.models import AuditEvent
from service.cabins.models import Cabin
from tests.compliance.conftest import World

BODY = {"reference": "ARS-ARA-2026-0042", "date": "2026-02-03"}


def url(world: World, name: str) -> str:
    return f"/v1/compliance/cabins/{world.cabins[name].id}/declaration-receipt"


def declared_on(db: Session, world: World, name: str, day: date | None) -> None:
    """The operator's ARS declaration date on the cabin (the world's cabins have none)."""
    cabin = db.get(Cabin, world.cabins[name].id)
    assert cabin is not None
    cabin.ars_declaration_date = day
    db.commit()  # releases the savepoint only: a refused request keeps the date


@pytest.fixture(autouse=True)
def _declared(db: Session, world: World) -> None:
    declared_on(db, world, "a84", date(2026, 1, 15))


def test_the_ars_records_a_received_declaration(client, db: Session, world: World) -> None:
    cabin_id = world.cabins["a84"].id
    version = db.scalar(select(Cabin.version).where(Cabin.id == cabin_id))
    r = client.post(url(world, "a84"), json=BODY, headers=world.keys["ars_84"])
    assert r.status_code == 200, r.text
    assert r.json()["ars_received_date"] == "2026-02-03"
    assert r.json()["ars_declaration_reference"] == "ARS-ARA-2026-0042"
    assert r.json()["version"] == version + 1
    assert r.headers["ETag"] == f'"{version + 1}"'
    db.expire_all()
    cabin = db.get(Cabin, cabin_id)
    assert cabin is not None and cabin.ars_received_date == date(2026, 2, 3)
    event = db.scalars(
        select(AuditEvent)
        .where(AuditEvent.target_id == str(cabin_id))
        .order_by(AuditEvent.id.desc())
    ).first()
    assert event is not None and event.action == "cabin.declaration_receipt"
    assert event.diff["declarations.ars_received_date"] == [None, "2026-02-03"]
    assert event.actor_client_id is not None


def test_recording_the_same_receipt_again_changes_nothing(
    client, db: Session, world: World
) -> None:
    first = client.post(url(world, "a84"), json=BODY, headers=world.keys["ars_84"]).json()
    again = client.post(url(world, "a84"), json=BODY, headers=world.keys["ars_84"]).json()
    assert again["version"] == first["version"]


def test_a_cabin_of_another_region_is_404_and_untouched(client, db: Session, world: World) -> None:
    r = client.post(url(world, "a11"), json=BODY, headers=world.keys["ars_84"])
    assert r.status_code == 404
    db.expire_all()
    cabin = db.get(Cabin, world.cabins["a11"].id)
    assert cabin is not None and cabin.ars_received_date is None


def test_operators_cannot_record_a_receipt(client, world: World) -> None:
    r = client.post(url(world, "a84"), json=BODY, headers=world.keys["operator_a"])
    assert r.status_code == 403
    assert client.post(url(world, "a84"), json=BODY).status_code == 401


def test_a_bad_receipt_is_422_naming_the_field(client, world: World) -> None:
    for body, field in (
        ({"reference": "", "date": "2026-02-03"}, "reference"),
        ({"reference": "R", "date": "2026-02-30"}, "date"),
        ({"reference": "R", "date": "2999-01-01"}, "date"),
        ({"reference": "R"}, "date"),
        # a control character, wherever it is, is refused (a NUL was a 500)
        ({"reference": "ARS\u0000x", "date": "2026-02-03"}, "reference"),
        ({"reference": "\u0001", "date": "2026-02-03"}, "reference"),
        ({"reference": "ARS-1\u001b", "date": "2026-02-03"}, "reference"),
        ({"reference": " \t ", "date": "2026-02-03"}, "reference"),
    ):
        r = client.post(url(world, "a84"), json=body, headers=world.keys["ars_84"])
        assert r.status_code == 422, body
        assert field in [e["field"] for e in r.json()["errors"]]
    reasons = [e["reason"] for e in r.json()["errors"]]
    assert reasons == ["must be text with a visible character and no control character"]


def test_a_receipt_dated_before_the_declaration_is_422_and_changes_nothing(
    client, db: Session, world: World
) -> None:
    version = db.scalar(select(Cabin.version).where(Cabin.id == world.cabins["a84"].id))
    for day in ("2026-01-14", "1990-01-01"):
        r = client.post(url(world, "a84"), json={**BODY, "date": day}, headers=world.keys["ars_84"])
        assert r.status_code == 422, r.text
        (error,) = r.json()["errors"]
        assert error["field"] == "date"
        assert "declarations.ars_declaration_date 2026-01-15" in error["reason"]
    same_day = client.post(
        url(world, "a84"), json={**BODY, "date": "2026-01-15"}, headers=world.keys["ars_84"]
    )
    assert same_day.status_code == 200, same_day.text
    assert same_day.json()["version"] == version + 1


def test_a_receipt_for_a_cabin_with_no_declaration_date_is_409(
    client, db: Session, world: World
) -> None:
    declared_on(db, world, "a84", None)
    r = client.post(
        url(world, "a84"), json={**BODY, "date": "1990-01-01"}, headers=world.keys["ars_84"]
    )
    assert r.status_code == 409, r.text
    assert r.json()["errors"][0]["field"] == "declarations.ars_declaration_date"
    db.expire_all()
    cabin = db.get(Cabin, world.cabins["a84"].id)
    assert cabin is not None and cabin.ars_received_date is None


def test_the_operator_cannot_then_date_its_declaration_after_the_receipt(
    client, db: Session, world: World
) -> None:
    client.post(url(world, "a84"), json=BODY, headers=world.keys["ars_84"])
    cabin_url = f"/v1/cabins/{world.cabins['a84'].id}"
    r = client.patch(
        cabin_url,
        json={"declarations": {"ars_declaration_date": "2026-02-04"}},
        headers={**world.keys["operator_a"], "If-Match": "*"},
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [
        {
            "field": "declarations.ars_declaration_date",
            "reason": "2026-02-04 is after the ARS's receipt of the declaration, 2026-02-03",
        }
    ]
    removed = client.patch(
        cabin_url,
        json={"declarations": {"ars_declaration_date": None}},
        headers={**world.keys["operator_a"], "If-Match": "*"},
    )
    assert removed.status_code == 422, removed.text
    assert removed.json()["errors"][0]["field"] == "declarations.ars_declaration_date"
