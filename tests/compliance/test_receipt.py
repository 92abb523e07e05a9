"""POST /v1/compliance/cabins/{id}/declaration-receipt: the ARS records a received
declaration; it is written, versioned and audited, in its région only."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.models import AuditEvent
from service.cabins.models import Cabin
from tests.compliance.conftest import World

BODY = {"reference": "ARS-ARA-2026-0042", "date": "2026-02-03"}


def url(world: World, name: str) -> str:
    return f"/v1/compliance/cabins/{world.cabins[name].id}/declaration-receipt"


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
    ):
        r = client.post(url(world, "a84"), json=body, headers=world.keys["ars_84"])
        assert r.status_code == 422, body
        assert field in [e["field"] for e in r.json()["errors"]]
