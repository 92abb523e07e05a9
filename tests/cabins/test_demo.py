"""The demo data: a demo operator, a few hundred demo cabins over real communes (flagged and
named as demo), keys printed once at creation; loading again changes nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.audit.trail import verify
from service.cabins.demo import DEMO_CABINS, load_demo
from service.cabins.models import Cabin
from service.cli import setup_steps
from service.rules.models import CabinCompliance


def test_demo_load_creates_flagged_cabins_over_real_communes_and_prints_keys_once(
    client: TestClient, db: Session
) -> None:
    printed: list[str] = []
    first = load_demo(db, print_key=printed.append)
    db.commit()  # the savepoint only: the test's transaction is rolled back at teardown

    cabins = db.scalars(select(Cabin).where(Cabin.operator_id == first.operator_id)).all()
    assert len(cabins) == first.created == DEMO_CABINS
    assert all(c.is_demo and c.venue_name and c.venue_name.startswith("DÉMO") for c in cabins)
    assert all(c.commune_insee == c.declared_insee for c in cabins)
    assert len({c.region_code for c in cabins}) >= 10
    assert {c.status for c in cabins} == {"draft", "active"}
    assert sorted(first.keys) == ["demo-admin", "demo-operator", "demo-regulator"]
    assert len(printed) == 3 and all(
        first.keys[n] in line for n, line in zip(sorted(first.keys), sorted(printed), strict=True)
    )

    # the active demo cabins give finder apps accessible cabins to find, and regulators a mix
    def active_by(column):  # type: ignore[no-untyped-def]
        rows = db.execute(
            select(column, func.count())
            .join(Cabin, Cabin.id == CabinCompliance.cabin_id)
            .where(Cabin.is_demo, Cabin.status == "active")
            .group_by(column)
        )
        return dict(rows.all())

    labels = active_by(CabinCompliance.accessibility_label)
    assert labels.get("accessible", 0) >= 60, labels
    statuses = active_by(CabinCompliance.compliance_status)
    assert statuses.get("incomplete", 0) >= 20 and statuses.get("non_compliant", 0) >= 20, statuses

    operator_key = {"Authorization": f"Bearer {first.keys['demo-operator']}"}
    listed = client.get("/v1/cabins?limit=5", headers=operator_key)
    assert listed.status_code == 200, listed.text
    assert len(listed.json()["items"]) == 5

    printed.clear()
    again = load_demo(db, print_key=printed.append)
    assert (again.created, again.updated, again.unchanged, again.activated) == (
        0,
        0,
        DEMO_CABINS,
        0,
    )
    assert again.keys == {} and printed == []
    count = db.scalar(select(func.count()).select_from(Cabin).where(Cabin.is_demo))
    assert count == DEMO_CABINS
    assert verify(db).ok


def test_demo_data_is_a_setup_step_only_when_asked() -> None:
    assert "demo operator, keys and cabins" in [t for t, _ in setup_steps(include_demo=True)]
    assert "demo operator, keys and cabins" not in [t for t, _ in setup_steps(include_demo=False)]
