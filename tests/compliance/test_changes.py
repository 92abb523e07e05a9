"""GET /v1/compliance/changes: the feed of verdict changes in scope, by cursor."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from service.compliance.queries import latest_change_id
from tests.compliance.conftest import World
from tests.compliance.factories import add_change


@pytest.fixture
def feed(db: Session, world: World) -> dict[str, int]:
    start = latest_change_id(db)
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
    assert body["next_cursor"] == str(feed["b11"])
    first = body["items"][0]
    assert first["cabin_id"] == str(world.cabins["a84"].id)
    assert (first["old_outcome"], first["new_outcome"]) == ("pass", "fail")
    r = client.get(f"/v1/compliance/changes?since={body['next_cursor']}", headers=headers)
    body = r.json()
    assert [i["id"] for i in body["items"]] == [feed["a11"]]
    assert body["has_more"] is False
    r = client.get(f"/v1/compliance/changes?since={body['next_cursor']}", headers=headers)
    assert r.json() == {"items": [], "next_cursor": str(feed["a11"]), "has_more": False}


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


@pytest.mark.parametrize(
    "since",
    [
        "-1",
        "abc",
        "1.5",
        "99999999999999999999",
        # past the bigint of the feed's ids, and digits that are not ASCII: were 500s
        "9223372036854775808",
        "\u00b2",
        "\u0663",
        # the `after` of a /v1/compliance/cabins next link
        "AaIIzKWFcJ6WEdUCO6e3UQ",
    ],
)
def test_a_malformed_cursor_is_400(client, world: World, since: str) -> None:
    r = client.get(
        "/v1/compliance/changes", params={"since": since}, headers=world.keys["national"]
    )
    assert r.status_code == 400
    (error,) = r.json()["errors"]
    assert error["field"] == "since" and "non-negative integer" in error["reason"]


def test_the_largest_cursor_is_accepted_and_ends_the_feed(
    client, world: World, feed: dict[str, int]
) -> None:
    r = client.get(
        "/v1/compliance/changes",
        params={"since": str(2**63 - 1)},
        headers=world.keys["national"],
    )
    assert r.status_code == 200
    assert r.json() == {"items": [], "next_cursor": str(2**63 - 1), "has_more": False}
