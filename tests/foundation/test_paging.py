"""service.paging: the page size, the `after` cursor and the `next` link of the keyset-paged
lists, and the lists' one way of refusing a cursor they did not give."""

from __future__ import annotations

import base64
import uuid
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from service import paging
from service.errors import InvalidParameter
from service.settings import Settings
from tests.auth.fixtures import Callers
from tests.cabins.factories import cabin_body

REASON = "is not a cursor: use the `next` link of the previous page"
CABIN = uuid.UUID("6f1c2a4e-9b3d-4c5e-8f7a-0b1c2d3e4f50")
# What the lists handed out for that id (and, for the clients' list, for 2026-03-01T08:00Z and
# that id) before they shared this module: they must still read the same.
CABIN_CURSOR = "bxwqTps9TF6PegscLT5PUA"
CLIENT_CURSOR = "AAZL8dtggABvHCpOmz1MXo96CxwtPk9Q"


def request(query: bytes = b"", *, default: int = 100, maximum: int = 1000) -> Request:
    settings = Settings(page_size_default=default, page_size_max=maximum)
    return Request(
        {
            "type": "http",
            "method": "GET",
            "scheme": "https",
            "server": ("registre.example.fr", 443),
            "path": "/v1/cabins",
            "query_string": query,
            "headers": [(b"host", b"registre.example.fr")],
            "app": SimpleNamespace(state=SimpleNamespace(settings=settings)),
        }
    )


def refusal(error: InvalidParameter) -> dict[str, str]:
    [field] = error.errors
    return {"field": field.field, "reason": field.reason}


def test_a_cursor_round_trips_its_key() -> None:
    key = bytes(range(24))
    assert paging.decode_cursor(paging.encode_cursor(key), 24) == key
    assert paging.uuid_cursor(paging.encode_cursor(CABIN.bytes)) == CABIN
    assert paging.bigint_cursor(paging.encode_cursor(paging.bigint_key(2**63 - 1))) == 2**63 - 1


def test_cursors_handed_out_before_keep_their_meaning() -> None:
    assert paging.encode_cursor(CABIN.bytes) == CABIN_CURSOR
    assert paging.uuid_cursor(CABIN_CURSOR) == CABIN
    micros = 1_772_352_000_000_000  # 2026-03-01T08:00:00Z
    assert paging.encode_cursor(micros.to_bytes(8) + CABIN.bytes) == CLIENT_CURSOR
    assert paging.decode_cursor(CLIENT_CURSOR, 24) == micros.to_bytes(8) + CABIN.bytes
    assert base64.urlsafe_b64decode(CLIENT_CURSOR) == micros.to_bytes(8) + CABIN.bytes


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not-a-cursor!",
        "A" * 21,  # not base64 at all: one character too many for its length
        "A" * 23,  # 17 bytes
        CABIN_CURSOR + "==",  # padded: never given
        CABIN_CURSOR[:4] + "!!" + CABIN_CURSOR[4:] + "==",  # base64 would skip the `!!`
        "é" * 22,
    ],
)
def test_a_cursor_this_service_did_not_give_is_400_naming_after(cursor: str) -> None:
    with pytest.raises(InvalidParameter) as refused:
        paging.uuid_cursor(cursor)
    assert refused.value.status == 400
    assert refusal(refused.value) == {"field": "after", "reason": f"{cursor!r} {REASON}"}
    assert refused.value.detail == f"The parameter `after` is not valid: {cursor!r} {REASON}."


def test_a_bigint_cursor_beyond_any_bigint_is_400() -> None:
    with pytest.raises(InvalidParameter) as refused:
        paging.bigint_cursor("_" * 22)
    assert refusal(refused.value)["field"] == "after"


@pytest.mark.parametrize(
    ("limit", "size"), [(None, 100), (1, 1), (250, 250), (1000, 1000), (10**6, 1000)]
)
def test_the_page_size_is_the_limit_else_the_default_never_over_the_maximum(
    limit: int | None, size: int
) -> None:
    assert paging.page_size(request(), limit) == size


def test_no_next_link_when_the_query_found_no_more_than_a_page() -> None:
    assert paging.next_link(request(), 2, [CABIN, CABIN], lambda u: u.bytes) is None
    assert paging.next_link(request(), 2, [], lambda u: u.bytes) is None


def test_the_next_link_is_the_same_request_after_the_last_item_of_the_page() -> None:
    found = [uuid.uuid4(), CABIN, uuid.uuid4()]
    link = paging.next_link(
        request(b"status=active&after=old&limit=5"), 2, found, lambda u: u.bytes
    )
    assert link == (
        f"https://registre.example.fr/v1/cabins?status=active&after={CABIN_CURSOR}&limit=2"
    )


def test_every_list_refuses_a_cursor_it_did_not_give_in_the_same_words(
    client: TestClient, callers: Callers
) -> None:
    created = client.post("/v1/cabins", json=cabin_body(), headers=callers.operator)
    assert created.status_code == 201, created.text
    stray = CABIN_CURSOR[:4] + "!!" + CABIN_CURSOR[4:] + "=="
    asked = [
        ("/v1/cabins", "!!", callers.operator),
        ("/v1/clients", "!!", callers.admin),
        (f"/v1/cabins/{created.json()['id']}/history", "_" * 22, callers.operator),
        ("/v1/compliance/cabins", "!!", callers.regulator),
        # read as CABIN_CURSOR before: base64 skips what is not in its alphabet
        ("/v1/compliance/cabins", stray, callers.regulator),
    ]
    for path, after, headers in asked:
        response = client.get(path, params={"after": after}, headers=headers)
        assert response.status_code == 400, (path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"] == [{"field": "after", "reason": f"{after!r} {REASON}"}]
        # Refused by its form (the pattern FastAPI checks) or its content (service.paging):
        # the same detail too.
        assert response.json()["detail"] == paging.not_a_cursor(after).detail
