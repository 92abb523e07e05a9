"""GET /v1/compliance/changes: the feed of verdict changes in scope, by cursor, in the order of
the transactions that wrote them, never skipping one that commits late."""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, delete, insert, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from service.audit.trail import CLI_ACTOR
from service.auth.models import ApiClient, Operator
from service.auth.service import create_client
from service.cabins.models import Cabin
from service.rules.evaluator import evaluate
from service.rules.models import VerdictChange
from tests.auth.factories import bearer, make_operator
from tests.compliance.conftest import World
from tests.compliance.factories import add_change, ended_xid, feed_end
from tests.rules.factories import insert_cabin


@pytest.fixture
def feed(db: Session, world: World) -> dict[str, str | int]:
    start = feed_end(db)
    code = world.codes[2]
    ids = {
        "a84": add_change(db, world.cabins["a84"], code, "pass", "fail"),
        "b11": add_change(db, world.cabins["b11"], code, "pass", "fail"),
        "a11": add_change(db, world.cabins["a11"], code, None, "unknown"),
    }
    db.commit()
    return {"start": start, **ids}


def test_the_feed_pages_by_cursor_and_gives_the_next_one(
    client, world: World, feed: dict[str, int]
) -> None:
    headers = world.keys["national"]
    r = client.get(f"/v1/compliance/changes?since={feed['start']}&limit=2", headers=headers)
    assert r.status_code == 200
    body = r.json()
    assert [i["id"] for i in body["items"]] == [feed["a84"], feed["b11"]]
    assert body["has_more"] is True
    first = body["items"][0]
    assert first["cabin_id"] == str(world.cabins["a84"].id)
    assert (first["old_outcome"], first["new_outcome"]) == ("pass", "fail")
    r = client.get(f"/v1/compliance/changes?since={body['next_cursor']}", headers=headers)
    body = r.json()
    assert [i["id"] for i in body["items"]] == [feed["a11"]]
    assert body["has_more"] is False
    cursor = body["next_cursor"]
    r = client.get(f"/v1/compliance/changes?since={cursor}", headers=headers)
    assert r.json() == {"items": [], "next_cursor": cursor, "has_more": False}


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("ars_84", ["a84"]),
        ("ars_11", ["b11", "a11"]),
        ("operator_a", ["a84", "a11"]),
        ("operator_b", ["b11"]),
    ],
)
def test_the_feed_is_scoped(
    client, world: World, feed: dict[str, int], role: str, expected: list[str]
) -> None:
    r = client.get(f"/v1/compliance/changes?since={feed['start']}", headers=world.keys[role])
    assert [i["id"] for i in r.json()["items"]] == [feed[n] for n in expected]


def test_the_feed_comes_in_the_order_of_the_writing_transactions(
    client, db: Session, world: World
) -> None:
    """A transaction may take its xid (first write) long before its change's id: the change
    with the higher id, from the older transaction, comes first."""
    start = feed_end(db)
    older = ended_xid(db) - 1
    code = world.codes[2]
    newer_transaction = add_change(db, world.cabins["a84"], code, "pass", "fail")
    older_transaction = add_change(db, world.cabins["b84"], code, "pass", "fail", xid=older)
    db.commit()
    r = client.get(f"/v1/compliance/changes?since={start}", headers=world.keys["national"])
    assert [i["id"] for i in r.json()["items"]] == [older_transaction, newer_transaction]


def read_all(
    client: TestClient, cursor: str, headers: dict[str, str], limit: int = 100
) -> tuple[list[dict], str]:
    """Every change after `cursor`, page by page as a consumer reads them, and the cursor
    after them."""
    served: list[dict] = []
    for _ in range(1000):
        r = client.get(
            "/v1/compliance/changes", params={"since": cursor, "limit": limit}, headers=headers
        )
        assert r.status_code == 200, r.text
        body = r.json()
        served += body["items"]
        assert len(body["items"]) == limit or not body["has_more"]
        assert body["next_cursor"] != cursor or not body["items"]
        cursor = body["next_cursor"]
        if not body["has_more"]:
            return served, cursor
    raise AssertionError("the feed did not end")


@pytest.mark.parametrize("role", ["national", "ars_84", "ars_11"])
def test_paging_through_many_changes_serves_each_once_in_order(
    client, db: Session, world: World, role: str
) -> None:
    """Changes from before the feed ordered by transaction (xid 0) and from two transactions,
    interleaved by id and across régions, read one, two or three at a time."""
    newer = ended_xid(db)
    code = world.codes[2]
    written: list[tuple[int, int, str]] = []  # (xid, id, cabin)
    plan = [("a84", newer), ("b11", 0), ("a11", newer - 1), ("b84", 0), ("a84", newer - 1)]
    for n, (name, xid) in enumerate(plan * 3):
        change = add_change(db, world.cabins[name], code, "pass", f"fail-{n}", xid=xid)
        written.append((xid, change, name))
    db.commit()
    # Right before the first of them: the older changes (xid 0) that follow, then every newer.
    start = f"0.{min(i for _, i, _ in written) - 1}"
    visible = world.visible(role)
    expected = [i for _, i, name in sorted(written) if name in visible]
    ours = {str(c.id) for c in world.cabins.values()}
    for limit in (1, 2, 3):
        served, _ = read_all(client, start, world.keys[role], limit)
        ids = [i["id"] for i in served]
        assert len(set(ids)) == len(ids)
        assert [i["id"] for i in served if i["cabin_id"] in ours] == expected


def test_a_change_id_handed_out_before_is_still_a_cursor(client, db: Session, world: World) -> None:
    """The feed used to hand out a change id as its cursor: it still means "after that
    change"; an id with no change means after the older changes (xid 0) up to it, before
    every newer one. The answer's cursor is the new kind."""
    code = world.codes[2]
    old_1 = add_change(db, world.cabins["a84"], code, "pass", "fail", xid=0)
    old_2 = add_change(db, world.cabins["b11"], code, "pass", "fail", xid=0)
    new = add_change(db, world.cabins["a11"], code, None, "unknown")
    new_xid = ended_xid(db)
    db.commit()
    headers = world.keys["national"]

    def ids(since: int) -> tuple[list[int], str]:
        r = client.get("/v1/compliance/changes", params={"since": str(since)}, headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        return [i["id"] for i in body["items"]], body["next_cursor"]

    assert ids(old_1) == ([old_2, new], f"{new_xid}.{new}")
    assert ids(old_2) == ([new], f"{new_xid}.{new}")
    assert ids(new) == ([], f"{new_xid}.{new}")
    # No such change (deleted, or a number never given): the older changes past it are
    # none here, every newer change follows.
    db.execute(delete(VerdictChange).where(VerdictChange.id == old_2))
    db.commit()
    assert ids(old_2) == ([new], f"{new_xid}.{new}")
    assert ids(new + 1000) == ([new], f"{new_xid}.{new}")
    assert ids(2**63 - 1) == ([new], f"{new_xid}.{new}")
    r = client.get(f"/v1/compliance/changes?since={new + 1000}", headers=world.keys["ars_84"])
    assert r.json() == {"items": [], "next_cursor": f"0.{new + 1000}", "has_more": False}


@pytest.mark.parametrize(
    "since",
    [
        "-1",
        "abc",
        "1.",
        ".1",
        "1.2.3",
        "1.-2",
        "x.5",
        "1,5",
        "99999999999999999999",
        # past the bigint of the ids or the xid8 of the transactions, and digits that are not
        # ASCII: were 500s
        "9223372036854775808",
        "1.9223372036854775808",
        "18446744073709551616.1",
        "\u00b2",
        "1.\u0663",
        # the `after` of a /v1/compliance/cabins or /v1/cabins next link (a cabin id), of a
        # cabin's history or the clients' list (a bigint), and a next link's query
        "AaIIzKWFcJ6WEdUCO6e3UQ",
        "AAAAAAAAAAAAAAAAAAAAAQ",
        "after=AaIIzKWFcJ6WEdUCO6e3UQ",
        "AaIIzKWFcJ6WEdUCO6e3UQ&limit=2",
    ],
)
def test_a_malformed_cursor_is_400(client, world: World, since: str) -> None:
    r = client.get(
        "/v1/compliance/changes", params={"since": since}, headers=world.keys["national"]
    )
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    (error,) = r.json()["errors"]
    assert error["field"] == "since"
    assert error["reason"].startswith(f"{since!r} is not a cursor: the `next_cursor`")


def test_another_lists_next_link_applied_to_the_feed_is_400_naming_after(
    client, world: World
) -> None:
    """The feed's cursor is `since`: a next link's `after` given to it is refused, not
    ignored (which restarted the feed at its first page)."""
    r = client.get(
        "/v1/compliance/changes",
        params={"after": "AaIIzKWFcJ6WEdUCO6e3UQ", "limit": 2},
        headers=world.keys["national"],
    )
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in r.json()["errors"]] == ["after"]


def test_a_whole_next_link_given_as_the_cursor_is_400(client, world: World) -> None:
    link = "http://testserver/v1/cabins?after=AaIIzKWFcJ6WEdUCO6e3UQ&limit=2"
    r = client.get("/v1/compliance/changes", params={"since": link}, headers=world.keys["national"])
    assert r.status_code == 400
    (error,) = r.json()["errors"]
    assert error["field"] == "since"


def test_a_cursor_longer_than_any_the_feed_gives_is_400(client, world: World) -> None:
    r = client.get(
        "/v1/compliance/changes", params={"since": "1" * 49}, headers=world.keys["national"]
    )
    assert r.status_code == 400
    (error,) = r.json()["errors"]
    assert error["field"] == "since"


def test_the_largest_cursor_is_accepted_and_ends_the_feed(
    client, world: World, feed: dict[str, int]
) -> None:
    largest = f"{2**64 - 1}.{2**63 - 1}"
    r = client.get(
        "/v1/compliance/changes", params={"since": largest}, headers=world.keys["national"]
    )
    assert r.status_code == 200
    assert r.json() == {"items": [], "next_cursor": largest, "has_more": False}


def test_the_start_is_0_or_no_cursor(client, db: Session, world: World) -> None:
    change = add_change(db, world.cabins["a84"], world.codes[2], None, "fail", xid=0)
    db.commit()
    for params in ({}, {"since": "0"}, {"since": " 0 "}, {"since": "0.0"}):
        r = client.get(
            "/v1/compliance/changes", params={**params, "limit": 1}, headers=world.keys["ars_84"]
        )
        assert r.status_code == 200
        body = r.json()
        assert [i["id"] for i in body["items"]] == [change]
        assert body["next_cursor"] == f"0.{change}"


def test_a_change_records_the_transaction_that_wrote_it(db: Session) -> None:
    """The evaluator's INSERT … SELECT names its columns: the xid comes from the column's
    default, the writing transaction's."""
    cabin_id = insert_cabin(db)
    evaluate(db, [cabin_id])
    stamped = db.execute(
        text(
            "SELECT count(*), count(*) FILTER (WHERE xid = pg_current_xact_id())"
            " FROM verdict_change WHERE cabin_id = :id"
        ),
        {"id": cabin_id},
    ).one()
    assert stamped[0] > 0 and stamped[0] == stamped[1]


# --- changes committed out of order, on real connections -------------------------------------


@dataclass(frozen=True)
class Committed:
    cabins: tuple[uuid.UUID, uuid.UUID]
    headers: dict[str, str]


@pytest.fixture
def committed(engine: Engine) -> Iterator[Committed]:
    """Two cabins and a national regulator's key, committed: the feed serves a change once its
    transaction has ended, which the test's own transaction never does. Deleted afterwards,
    with their changes."""
    with Session(engine) as session:
        operator_id = make_operator(session, "Opérateur du fil des changements")
        cabins = (insert_cabin(session, operator_id), insert_cabin(session, operator_id))
        created = create_client(session, CLI_ACTOR, role="regulator", scope="national")
        client_id = created.client.id
        session.commit()
    yield Committed(cabins, bearer(created.key))
    with Session(engine) as session:
        session.execute(delete(VerdictChange).where(VerdictChange.cabin_id.in_(cabins)))
        session.execute(delete(Cabin).where(Cabin.operator_id == operator_id))
        session.execute(delete(ApiClient).where(ApiClient.id == client_id))
        session.execute(delete(Operator).where(Operator.id == operator_id))
        session.commit()


def write_change(conn: Connection, cabin_id: uuid.UUID) -> tuple[int, int]:
    """A change as the evaluator writes it (the xid from the column's default): (id, xid)."""
    row = conn.execute(
        insert(VerdictChange)
        .values(
            cabin_id=cabin_id,
            rule_code="SIT-01",
            old_outcome="pass",
            new_outcome="fail",
            severity="error",
            evidence={"reason": "out of order"},
            rule_set_version="test.1",
            changed_at=text("now()"),
        )
        .returning(VerdictChange.id, text("xid::text"))
    ).one()
    return row[0], int(row[1])


def ended_before_now(engine: Engine, xid: int, seconds: float = 120.0) -> bool:
    """Whether every transaction up to `xid` has ended, within `seconds`: the feed's bound is
    over the whole cluster, and another database's transaction may still be running."""
    deadline = time.monotonic() + seconds
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            if conn.scalar(
                text("SELECT pg_snapshot_xmin(pg_current_snapshot()) > CAST(:xid AS xid8)"),
                {"xid": str(xid)},
            ):
                return True
            conn.rollback()
            time.sleep(0.05)
    return False


def ours(items: list[dict], committed: Committed) -> list[int]:
    return [i["id"] for i in items if uuid.UUID(i["cabin_id"]) in committed.cabins]


@pytest.mark.parametrize("takes_its_xid_first", [False, True])
def test_a_change_committed_after_a_later_one_is_not_skipped(
    app: FastAPI, engine: Engine, committed: Committed, takes_its_xid_first: bool
) -> None:
    """Transaction A writes a change and stays open; B writes one with a higher id and commits.
    A consumer reading now must not get B's change: its cursor would pass A's, which A then
    commits. Or A takes its xid first (its first write) and its change's id only after B's:
    the same, with A's change last by id and first in the feed."""
    a_cabin, b_cabin = committed.cabins
    with TestClient(app) as client, engine.connect() as a, engine.connect() as b:
        _, cursor = read_all(client, "0", committed.headers)
        if takes_its_xid_first:
            a.execute(text("SELECT pg_current_xact_id()"))
        else:
            a_id, a_xid = write_change(a, a_cabin)
        b_id, b_xid = write_change(b, b_cabin)
        b.commit()
        if takes_its_xid_first:
            a_id, a_xid = write_change(a, a_cabin)
        assert a_xid < b_xid
        assert (a_id < b_id) is not takes_its_xid_first
        with engine.connect() as reader:  # B's change is committed, A's is not
            visible = reader.scalars(
                select(VerdictChange.id).where(VerdictChange.id.in_([a_id, b_id]))
            ).all()
        assert visible == [b_id]

        served, cursor = read_all(client, cursor, committed.headers)
        assert ours(served, committed) == []

        a.commit()
        assert ended_before_now(engine, b_xid), "a transaction older than B still runs"
        served, cursor = read_all(client, cursor, committed.headers)
        assert ours(served, committed) == [a_id, b_id]
        served, _ = read_all(client, cursor, committed.headers)
        assert ours(served, committed) == []


def test_a_regulator_export_streams_from_its_own_read_pool(
    app: FastAPI, committed: Committed
) -> None:
    """The regulators' reads run on the read database through their own pool (no test
    override here): a streamed export holds none of the connections the open endpoints use,
    and gives its connection back once sent."""
    with TestClient(app) as client:
        r = client.get("/v1/compliance/export.csv", headers=committed.headers)
        assert r.status_code == 200
        exported = {row["id"] for row in csv.DictReader(io.StringIO(r.text))}
        assert {str(cabin) for cabin in committed.cabins} <= exported
        regulators = app.state.regulator_sessionmaker.kw["bind"]
        assert regulators.pool.checkedout() == 0
        public = getattr(app.state, "read_sessionmaker", None)
        assert public is None or public.kw["bind"] is not regulators
        with regulators.connect() as connection:
            name = connection.execute(text("SHOW application_name")).scalar()
            assert name == "cabin-registry-regulator"
            assert connection.execute(text("SHOW default_transaction_read_only")).scalar() == "on"
