"""A cabin write that changes what SIT-10 counts of it — it becomes or stops being active, or
moves while active — re-evaluates SIT-10 for the cabins around it (those within the radius of
its point, and of its previous point when it moved), in the write's transaction, with their
compliance; any other write leaves them alone."""

from __future__ import annotations

import json
import math
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from service.audit.trail import CLI_ACTOR
from service.cabins.models import Cabin
from service.rules import rulesets
from service.rules.evaluator import Point, evaluate
from service.rules.models import Verdict
from service.rules.schemas import Profile, ProfileRule, RuleChange, RuleSetCreate
from tests.auth.fixtures import Callers
from tests.cabins.factories import PARIS, cabin_body
from tests.locks import waits_then_runs
from tests.rules.catalogue.factories import add_zone, fresh_layer
from tests.rules.conftest import T0
from tests.rules.factories import insert_cabin

M_PER_DEG_LON = 111_320 * math.cos(math.radians(PARIS["lat"]))


def east(metres: float) -> float:
    """The longitude `metres` east of the centre of Paris (west when negative)."""
    return PARIS["lon"] + metres / M_PER_DEG_LON


def publish_saturation(
    db: Session,
    radius_m: float = 1000,
    max_other_cabins: int = 0,
    region_radius_m: tuple[str, float] | None = None,
) -> None:
    """Rule set 2025.7 in force with SIT-10 only, an error, no other active cabin allowed
    within `radius_m` (or `max_other_cabins`), `region_radius_m` = (région, radius) by a
    profile; Paris in a ZAC (not exempt), so a crowded cabin fails."""
    layer = fresh_layer(db, "medical_zone")
    add_zone(db, layer, "75056", "ZAC")
    rules = {f"SIT-{i:02d}": RuleChange(enabled=False) for i in range(1, 21) if i != 10}
    rules["SIT-10"] = RuleChange(
        severity="error", parameters={"max_other_cabins": max_other_cabins, "radius_m": radius_m}
    )
    rulesets.derive(
        db,
        RuleSetCreate(
            version="2025.7",
            title="saturation only",
            rules=rules,
            profiles=[
                Profile(
                    name=f"radius-{region}",
                    regions=[region],
                    rules={"SIT-10": ProfileRule(parameters={"radius_m": radius})},
                )
                for region, radius in ([region_radius_m] if region_radius_m else [])
            ],
        ),
        actor=CLI_ACTOR,
    )
    rulesets.publish(db, "2025.7", actor=CLI_ACTOR, at=T0)
    db.commit()


@pytest.fixture
def saturation(db: Session) -> None:
    publish_saturation(db)


def step(client: TestClient, callers: Callers, cabin_id: str, to: str) -> dict[str, Any]:
    response = client.post(
        f"/v1/cabins/{cabin_id}/transitions", json={"to": to}, headers=callers.operator
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def cabin_at(
    client: TestClient, callers: Callers, reference: str, lon: float, status: str = "active"
) -> str:
    created = client.post(
        "/v1/cabins", json=cabin_body(reference, location__lon=lon), headers=callers.operator
    )
    assert created.status_code == 201, created.text
    cabin_id = str(created.json()["id"])
    for to in ("declared", "active")[: ("draft", "declared", "active").index(status)]:
        step(client, callers, cabin_id, to)
    return cabin_id


def sit10(client: TestClient, callers: Callers, cabin_id: str) -> tuple[str, int, str]:
    """SIT-10's outcome and count of other active cabins, and the compliance status."""
    body = client.get(f"/v1/cabins/{cabin_id}/compliance", headers=callers.operator).json()
    (verdict,) = [v for v in body["verdicts"] if v["rule_code"] == "SIT-10"]
    return (
        verdict["outcome"],
        verdict["evidence"]["other_active_cabins_within_radius"],
        body["compliance_status"],
    )


def changes_of(db: Session, cabin_id: str) -> list[tuple[str | None, str]]:
    return [
        (row.old_outcome, row.new_outcome)
        for row in db.execute(
            text(
                "SELECT old_outcome, new_outcome FROM verdict_change"
                " WHERE cabin_id = :id AND rule_code = 'SIT-10' ORDER BY id"
            ),
            {"id": cabin_id},
        )
    ]


def patch(client: TestClient, callers: Callers, cabin_id: str, body: dict[str, Any]) -> None:
    current = client.get(f"/v1/cabins/{cabin_id}", headers=callers.operator)
    response = client.patch(
        f"/v1/cabins/{cabin_id}",
        json=body,
        headers={**callers.operator, "If-Match": current.headers["ETag"]},
    )
    assert response.status_code == 200, response.text


def test_activating_a_cabin_beside_an_active_one_fails_the_other_in_the_same_write(
    db: Session, client: TestClient, callers: Callers, saturation: None
) -> None:
    a = cabin_at(client, callers, "A", PARIS["lon"])
    b = cabin_at(client, callers, "B", PARIS["lon"], status="declared")
    assert sit10(client, callers, a) == ("pass", 0, "compliant")  # B is only declared
    step(client, callers, b, "active")
    assert sit10(client, callers, a) == ("fail", 1, "non_compliant")
    assert changes_of(db, a) == [(None, "pass"), ("pass", "fail")]
    assert sit10(client, callers, b) == ("fail", 1, "non_compliant")


@pytest.mark.parametrize("leaving", ["suspended", "decommissioned"])
def test_a_cabin_leaving_active_lets_the_one_beside_pass_again(
    db: Session, client: TestClient, callers: Callers, saturation: None, leaving: str
) -> None:
    a = cabin_at(client, callers, "A", PARIS["lon"])
    b = cabin_at(client, callers, "B", east(300))
    assert sit10(client, callers, a) == ("fail", 1, "non_compliant")
    if leaving == "decommissioned":
        response = client.delete(f"/v1/cabins/{b}", headers=callers.operator)
        assert response.status_code == 200, response.text
    else:
        step(client, callers, b, leaving)
    assert sit10(client, callers, a) == ("pass", 0, "compliant")


def test_moving_an_active_cabin_frees_its_old_neighbours_and_crowds_its_new_ones(
    db: Session, client: TestClient, callers: Callers, saturation: None
) -> None:
    a = cabin_at(client, callers, "A", PARIS["lon"])
    b = cabin_at(client, callers, "B", PARIS["lon"])
    c = cabin_at(client, callers, "C", east(-5000))
    assert sit10(client, callers, a)[0] == "fail"
    assert sit10(client, callers, c) == ("pass", 0, "compliant")
    patch(client, callers, b, {"location": {"lon": east(-5050)}})
    assert sit10(client, callers, a) == ("pass", 0, "compliant")
    assert sit10(client, callers, c) == ("fail", 1, "non_compliant")
    assert sit10(client, callers, b) == ("fail", 1, "non_compliant")


def test_a_fees_patch_leaves_the_cabins_around_alone_and_a_move_does_not(
    db: Session, client: TestClient, callers: Callers
) -> None:
    publish_saturation(db, max_other_cabins=1)
    a = cabin_at(client, callers, "A", PARIS["lon"])
    b = cabin_at(client, callers, "B", east(500))
    c = cabin_at(client, callers, "C", east(-3000))
    assert sit10(client, callers, a) == ("pass", 1, "compliant")
    # A cabin written straight into the table beside A, unseen by the engine: A's stored
    # verdict is stale (1 other) until a write re-evaluates A.
    insert_cabin(db, lon=PARIS["lon"], lat=PARIS["lat"])
    db.commit()
    patch(client, callers, b, {"fees": {"base_fee_eur": 25}})
    assert sit10(client, callers, a) == ("pass", 1, "compliant")  # B's fees: not re-evaluated
    patch(client, callers, c, {"location": {"lon": east(-2500)}})
    assert sit10(client, callers, a) == ("pass", 1, "compliant")  # C moved, out of reach
    patch(client, callers, b, {"location": {"lon": east(450)}})
    assert sit10(client, callers, a) == ("fail", 2, "non_compliant")  # B moved: re-evaluated


def test_an_import_row_moving_an_active_cabin_re_evaluates_the_cabins_around(
    client: TestClient, callers: Callers, saturation: None
) -> None:
    a = cabin_at(client, callers, "A", PARIS["lon"])
    cabin_at(client, callers, "B", east(3000))
    c = cabin_at(client, callers, "C", east(-3000), status="declared")
    assert sit10(client, callers, a) == ("pass", 0, "compliant")
    rows = [cabin_body("B", location__lon=east(300)), cabin_body("C", location__lon=east(-200))]
    response = client.post(
        "/v1/cabins/import",
        content="\n".join(json.dumps(r) for r in rows) + "\n",
        headers={"Content-Type": "application/x-ndjson", **callers.operator},
    )
    assert response.status_code == 200, response.text
    assert response.json()["updated"] == 2
    # B (active) moved within A's radius; C, moved beside A too, is only declared
    assert sit10(client, callers, a) == ("fail", 1, "non_compliant")
    assert sit10(client, callers, c)[:2] == ("fail", 1)  # counted up to 1 past the limit


def test_a_profile_radius_decides_which_cabins_around_are_evaluated(
    db: Session, client: TestClient, callers: Callers
) -> None:
    """Nationally 300 m, 1000 m in Île-de-France by a profile: activating a cabin 500 m away
    reaches the Parisian cabin by the profile's radius, not the national one."""
    publish_saturation(db, radius_m=300, region_radius_m=("11", 1000))
    a = cabin_at(client, callers, "A", PARIS["lon"])
    b = cabin_at(client, callers, "B", east(500), status="declared")
    step(client, callers, b, "active")
    assert sit10(client, callers, a) == ("fail", 1, "non_compliant")


def test_each_cabin_around_is_reached_by_the_radius_of_its_own_region(db: Session) -> None:
    """1000 m nationally, 2000 m in région 84 by a profile: a cabin of 84 1500 m from the
    written Parisian cabin is reached by its région's radius, a Parisian one 1500 m away is
    not (the cabins are given their région by the column, beside Paris)."""
    publish_saturation(db, radius_m=1000, region_radius_m=("84", 2000))
    of_84 = insert_cabin(db, lon=east(1500), region_code="84")
    near = insert_cabin(db, lon=east(-500))
    far = insert_cabin(db, lon=east(-1500))
    evaluate(db, [of_84, near, far])
    written = insert_cabin(db)
    report = evaluate(db, [written], neighbours_of={written: None})
    assert report.rewritten_neighbours == {of_84, near}


def test_the_report_names_the_cabins_around_only_when_asked(db: Session, saturation: None) -> None:
    a = insert_cabin(db)
    b = insert_cabin(db, lon=east(200))
    far = insert_cabin(db, lon=east(3000))
    plain = evaluate(db, [b])
    assert plain.neighbours == {} and plain.rewritten_neighbours == set()
    around = evaluate(db, [b], neighbours_of={b: None})
    assert around.rewritten_neighbours == {a}  # `far` is out of reach, `b` was written
    assert around.neighbours["SIT-10"].first == 1
    moved_from: dict[uuid.UUID, Point | None] = {b: (east(3000), PARIS["lat"])}
    again = evaluate(db, [b], neighbours_of=moved_from)
    assert again.rewritten_neighbours == {far}  # A's verdict unchanged: not rewritten


def test_two_cabins_activated_side_by_side_count_each_other(
    engine: Engine, committed_operator: uuid.UUID
) -> None:
    """B and C activated at A's corner in two transactions at once, under rule set 2026.1
    (counted up to 2 others): the second waits for the first to commit, then counts it, so
    every one of the three ends with 2 others — evaluated apart, C would count A alone. The
    writes here append no audit event, whose tail lock also puts the service's writes in
    turn: what is tested is the engine's own lock."""
    with Session(engine) as session:
        a = insert_cabin(session, committed_operator)
        b, c = (insert_cabin(session, committed_operator, status="declared") for _ in range(2))
        evaluate(session, [a, b, c])
        session.commit()

    def activate(session: Session, cabin_id: uuid.UUID) -> Any:
        session.execute(
            update(Cabin).where(Cabin.id == cabin_id).values(status="active", version=2)
        )
        return evaluate(session, [cabin_id], neighbours_of={cabin_id: None})

    with Session(engine) as first, Session(engine) as second:
        activate(first, b)
        waits_then_runs(engine, second, lambda: activate(second, c), first.commit, commit=True)
    with Session(engine) as session:
        rows = session.execute(
            select(Verdict.cabin_id, Verdict.evidence).where(
                Verdict.cabin_id.in_([a, b, c]), Verdict.rule_code == "SIT-10"
            )
        ).all()
    counts = {
        cabin_id: evidence["other_active_cabins_within_radius"] for cabin_id, evidence in rows
    }
    assert counts == {a: 2, b: 2, c: 2}


def test_the_demo_cabins_activated_are_counted_by_the_active_cabins_around(
    db: Session, saturation: None
) -> None:
    """The demo loader activates its cabins in one statement: an active cabin already
    standing where one of them lands kept counting none."""
    from service.cabins.demo import demo_records, load_demo

    first = demo_records(db)[0]  # the first of every three is activated
    point = first["location"]
    insee = point["declared_insee"]
    a = insert_cabin(
        db, lon=point["lon"], lat=point["lat"], declared_insee=insee, commune_insee=insee
    )
    evaluate(db, [a])
    assert db.get(Verdict, (a, "SIT-10")).evidence["other_active_cabins_within_radius"] == 0

    load_demo(db, print_key=lambda line: None)
    db.expire_all()
    assert db.get(Verdict, (a, "SIT-10")).evidence["other_active_cabins_within_radius"] >= 1
