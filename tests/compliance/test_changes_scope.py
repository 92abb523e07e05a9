"""GET /v1/compliance/changes when a cabin moves into another région: the région it left is
told (`left_scope`), the one it entered too, with the cabin's verdicts (`entered_scope`), and
a regional regulator's copy kept from its feed holds what the registry holds."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from service.cabins.models import Cabin
from service.compliance.models import CabinRegionChange
from service.rules.models import Verdict
from tests.cabins.factories import LYON, PARIS, cabin_body
from tests.compliance.conftest import World
from tests.compliance.factories import ENDED_XID, feed_end

LYON_ADDRESS = {"number": "1", "street": "place Bellecour", "postcode": "69002"}
PARIS_ADDRESS = {"number": "12", "street": "rue de Rivoli", "postcode": "75004"}


def as_ended(db: Session) -> None:
    """What the test's transaction wrote to the feed, stamped as written by a transaction that
    has ended (the test's own never does, so the feed would never serve it), ids kept."""
    for table in ("verdict_change", "cabin_region_change"):
        db.execute(text(f"UPDATE {table} SET xid = {ENDED_XID} WHERE xid = pg_current_xact_id()"))


def read(client: TestClient, since: str, headers: dict[str, str], limit: int = 100) -> list[dict]:
    """Every item after `since`, page by page as a consumer reads them."""
    items: list[dict] = []
    for _ in range(1000):
        r = client.get(
            "/v1/compliance/changes", params={"since": since, "limit": limit}, headers=headers
        )
        assert r.status_code == 200, r.text
        body = r.json()
        items += body["items"]
        since = body["next_cursor"]
        if not body["has_more"]:
            return items
    raise AssertionError("the feed did not end")


def mirror(items: list[dict], copy: dict[str, dict[str, str]] | None = None) -> dict[str, Any]:
    """The copy a regulator keeps from its feed: per cabin, per rule, the outcome."""
    copy = {} if copy is None else copy
    for item in items:
        if item["kind"] == "verdict":
            copy.setdefault(item["cabin_id"], {})[item["rule_code"]] = item["new_outcome"]
        elif item["kind"] == "left_scope":
            copy.pop(item["cabin_id"], None)
        else:
            assert item["kind"] == "entered_scope"
            copy[item["cabin_id"]] = {v["rule_code"]: v["outcome"] for v in item["verdicts"]}
    return copy


def strip(item: dict) -> dict:
    """An item but the cabin's codes, which are where it is now."""
    return {
        k: v
        for k, v in item.items()
        if k not in ("region_code", "departement_code", "commune_insee")
    }


def stored(db: Session, cabin_id: str) -> dict[str, str]:
    rows = db.execute(
        select(Verdict.rule_code, Verdict.outcome).where(Verdict.cabin_id == cabin_id)
    )
    return dict(rows.tuples().all())


def move(
    client: TestClient, db: Session, world: World, cabin: dict, to: dict, address: dict
) -> dict:
    r = client.patch(
        f"/v1/cabins/{cabin['id']}",
        json={"location": {**to, "address": address}},
        headers={**world.keys["operator_a"], "If-Match": f'"{cabin["version"]}"'},
    )
    assert r.status_code == 200, r.text
    as_ended(db)
    return r.json()


def test_a_cabin_moved_into_another_region_leaves_one_feed_and_enters_the_other(
    client: TestClient, db: Session, world: World
) -> None:
    start = feed_end(db)
    body = cabin_body("MOVE-1", location={**LYON, "address": LYON_ADDRESS})
    r = client.post("/v1/cabins", json=body, headers=world.keys["operator_a"])
    assert r.status_code == 201, r.text
    cabin = r.json()
    as_ended(db)
    ars_84, ars_11 = world.keys["ars_84"], world.keys["ars_11"]
    before_move = read(client, start, ars_84)
    mine = [i for i in before_move if i["cabin_id"] == cabin["id"]]
    assert mine and {i["kind"] for i in mine} == {"verdict"}
    copy_84 = mirror(before_move)
    assert copy_84[cabin["id"]] == stored(db, cabin["id"])
    assert [i for i in read(client, start, ars_11) if i["cabin_id"] == cabin["id"]] == []

    cabin = move(client, db, world, cabin, PARIS, PARIS_ADDRESS)
    moved = db.scalars(select(CabinRegionChange).where(CabinRegionChange.cabin_id == cabin["id"]))
    assert [(m.old_region, m.new_region) for m in moved] == [("84", "11")]

    # The région it left: the cabin's changes up to the move, then that it left; nothing after.
    feed_84 = [i for i in read(client, start, ars_84) if i["cabin_id"] == cabin["id"]]
    assert [i["id"] for i in feed_84[: len(mine)]] == [i["id"] for i in mine]
    (left,) = feed_84[len(mine) :]
    assert left["kind"] == "left_scope"
    assert (left["old_region_code"], left["new_region_code"]) == ("84", "11")
    assert left["rule_code"] is None and left["new_outcome"] is None
    assert left["verdicts"] is None
    assert cabin["id"] not in mirror(feed_84)

    # The région it entered: the cabin with its verdicts as the feed gave them, then the
    # changes the move brought; its copy holds what the registry holds.
    feed_11 = [i for i in read(client, start, ars_11) if i["cabin_id"] == cabin["id"]]
    entered = feed_11[0]
    assert entered["kind"] == "entered_scope"
    assert (entered["old_region_code"], entered["new_region_code"]) == ("84", "11")
    assert entered["region_code"] == "11"
    assert {v["rule_code"]: v["outcome"] for v in entered["verdicts"]} == copy_84[cabin["id"]]
    assert entered["id"] == left["id"]
    assert {i["kind"] for i in feed_11[1:]} <= {"verdict"}
    assert mirror(feed_11)[cabin["id"]] == stored(db, cabin["id"])

    # Read one item at a time, the same items.
    assert [i for i in read(client, start, ars_11, limit=1) if i["cabin_id"] == cabin["id"]] == (
        feed_11
    )

    # A national regulator and the operator keep seeing the cabin: verdict changes only.
    for role in ("national", "operator_a"):
        feed = [i for i in read(client, start, world.keys[role]) if i["cabin_id"] == cabin["id"]]
        assert {i["kind"] for i in feed} == {"verdict"}
        assert mirror(feed)[cabin["id"]] == stored(db, cabin["id"])

    # In Paris, the declaration's reference is recorded (SIT-01 passes): a change of 11's.
    r = client.patch(
        f"/v1/cabins/{cabin['id']}",
        json={"declarations": {"ars_declaration_reference": "ARS-IDF-1"}},
        headers={**world.keys["operator_a"], "If-Match": f'"{cabin["version"]}"'},
    )
    assert r.status_code == 200, r.text
    cabin = r.json()
    as_ended(db)
    reference_recorded = [i for i in read(client, start, ars_11) if i["cabin_id"] == cabin["id"]]
    assert [i["kind"] for i in reference_recorded[len(feed_11) :]] == ["verdict"]
    assert reference_recorded[-1]["rule_code"] == "SIT-01"
    assert reference_recorded[-1]["new_outcome"] == "pass"
    feed_11 = reference_recorded

    # Back to Lyon: a copy of each région kept from the feed follows the cabin.
    cursor_84, cursor_11 = feed_end(db), feed_end(db)
    cabin = move(client, db, world, cabin, LYON, LYON_ADDRESS)
    back_84 = [i for i in read(client, cursor_84, ars_84) if i["cabin_id"] == cabin["id"]]
    assert back_84[0]["kind"] == "entered_scope"
    assert mirror(back_84)[cabin["id"]] == stored(db, cabin["id"])
    assert mirror(feed_84 + back_84)[cabin["id"]] == stored(db, cabin["id"])
    back_11 = [i for i in read(client, cursor_11, ars_11) if i["cabin_id"] == cabin["id"]]
    assert [i["kind"] for i in back_11] == ["left_scope"]
    assert cabin["id"] not in mirror(feed_11 + back_11)
    # Read again from the start, each région's feed is what it was, and what followed.
    for role, before, after in (("ars_84", feed_84, back_84), ("ars_11", feed_11, back_11)):
        again = [i for i in read(client, start, world.keys[role]) if i["cabin_id"] == cabin["id"]]
        assert [strip(i) for i in again] == [strip(i) for i in before + after]


def test_the_regions_feed_keeps_the_changes_written_while_the_cabin_was_there(
    client: TestClient, db: Session, world: World
) -> None:
    """Read after the move, the région the cabin left still gets the changes written while it
    was there, and the one it entered does not get them as its own."""
    start = feed_end(db)
    body = cabin_body("MOVE-2", location={**LYON, "address": LYON_ADDRESS})
    cabin = client.post("/v1/cabins", json=body, headers=world.keys["operator_a"]).json()
    as_ended(db)
    move(client, db, world, cabin, PARIS, PARIS_ADDRESS)
    feed_84 = [i for i in read(client, start, world.keys["ars_84"]) if i["cabin_id"] == cabin["id"]]
    feed_11 = [i for i in read(client, start, world.keys["ars_11"]) if i["cabin_id"] == cabin["id"]]
    first_evaluation = [i for i in feed_84 if i["kind"] == "verdict"]
    assert first_evaluation and all(i["old_outcome"] is None for i in first_evaluation)
    assert feed_84[-1]["kind"] == "left_scope"
    assert feed_11[0]["kind"] == "entered_scope"
    assert all(i["old_outcome"] is not None for i in feed_11[1:])


def test_only_a_change_of_region_is_recorded(db: Session, world: World) -> None:
    """Whatever writes the région (a PATCH, an import's upsert): the trigger on `cabin`."""
    cabin = world.cabins["a84"]
    db.execute(text("UPDATE cabin SET region_code = region_code, version = version + 1"))
    db.execute(text("UPDATE cabin SET region_code = '11' WHERE id = :id").bindparams(id=cabin.id))
    rows = db.scalars(
        select(CabinRegionChange).where(
            CabinRegionChange.cabin_id.in_(
                select(Cabin.id).where(Cabin.operator_id.in_([world.operator_a, world.operator_b]))
            )
        )
    ).all()
    assert [(r.cabin_id, r.old_region, r.new_region) for r in rows] == [(cabin.id, "84", "11")]


def test_a_region_s_feed_does_not_tell_where_a_cabin_that_left_it_is_now(
    client: TestClient, db: Session, world: World
) -> None:
    """Read after the move, the items of a cabin that left the région carried the commune,
    département and région it is in now: ARS 84 read from its own feed that the cabin sits in
    Paris, a commune its key cannot filter on (403) nor list a cabin of (404)."""
    start = feed_end(db)
    body = cabin_body("MOVE-3", location={**LYON, "address": LYON_ADDRESS})
    cabin = client.post("/v1/cabins", json=body, headers=world.keys["operator_a"]).json()
    as_ended(db)
    move(client, db, world, cabin, PARIS, PARIS_ADDRESS)
    feed_84 = [i for i in read(client, start, world.keys["ars_84"]) if i["cabin_id"] == cabin["id"]]
    assert feed_84[-1]["kind"] == "left_scope" and feed_84[-1]["new_region_code"] == "11"
    codes = ("region_code", "departement_code", "commune_insee")
    assert {tuple(i[c] for c in codes) for i in feed_84} == {(None, None, None)}
    # The région it is in now, a national regulator and the operator are told where it is.
    for role in ("ars_11", "national", "operator_a"):
        feed = [i for i in read(client, start, world.keys[role]) if i["cabin_id"] == cabin["id"]]
        assert feed and {tuple(i[c] for c in codes) for i in feed} == {("11", "75", "75056")}
