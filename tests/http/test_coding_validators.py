"""A strong ETag differs between an answer's codings (RFC 9110 §8.8.3): the gzipped cabin says
`"3-gzip"`, the plain one `"3"`, and If-Match takes either; a weak ETag is shared. Every answer
whose coding follows `Accept-Encoding` says `Vary: Accept-Encoding`, the plain one too."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from service.cabins.models import Cabin
from service.compression import MINIMUM_BYTES, GzipMiddleware, gzip_etag, identity_tags
from tests.auth.fixtures import Callers
from tests.cabins.factories import cabin_body

GZIP = {"Accept-Encoding": "gzip"}
PLAIN = {"Accept-Encoding": "identity"}
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


def created_cabin(client: TestClient, callers: Callers) -> str:
    response = client.post("/v1/cabins", json=cabin_body(), headers={**callers.operator, **PLAIN})
    assert response.status_code == 201, response.text
    assert response.headers["ETag"] == '"1"'
    return str(response.json()["id"])


def test_a_gzipped_cabin_has_its_own_strong_etag(client: TestClient, callers: Callers) -> None:
    url = f"/v1/cabins/{created_cabin(client, callers)}"
    plain = client.get(url, headers={**callers.operator, **PLAIN})
    gzipped = client.get(url, headers={**callers.operator, **GZIP})
    assert "content-encoding" not in plain.headers
    assert gzipped.headers["content-encoding"] == "gzip"
    assert plain.headers["ETag"] == '"1"'
    assert gzipped.headers["ETag"] == '"1-gzip"'
    assert gzipped.json() == plain.json()
    head = client.head(url, headers={**callers.operator, **GZIP})
    assert head.headers["ETag"] == '"1-gzip"'


@pytest.mark.parametrize("accept_encoding", ["gzip", "identity"])
def test_a_patch_with_the_gzipped_etag_matches(
    client: TestClient, callers: Callers, db: Session, accept_encoding: str
) -> None:
    """The client sends back the ETag it was given, whatever coding it now asks for."""
    cabin_id = created_cabin(client, callers)
    url = f"/v1/cabins/{cabin_id}"
    etag = client.get(url, headers={**callers.operator, **GZIP}).headers["ETag"]
    response = client.patch(
        url,
        json={"venue": {"name": "Un"}},
        headers={**callers.operator, **MERGE_PATCH, "If-Match": etag,
                 "Accept-Encoding": accept_encoding},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2
    expected = '"2-gzip"' if accept_encoding == "gzip" else '"2"'
    assert response.headers["ETag"] == expected


def test_a_stale_gzipped_etag_is_412_and_writes_nothing(
    client: TestClient, callers: Callers, db: Session
) -> None:
    cabin_id = created_cabin(client, callers)
    url = f"/v1/cabins/{cabin_id}"
    first = client.patch(
        url, json={"venue": {"name": "Un"}},
        headers={**callers.operator, **MERGE_PATCH, **GZIP, "If-Match": '"1-gzip"'},
    )  # fmt: skip
    assert first.status_code == 200, first.text
    stale = client.patch(
        url, json={"venue": {"name": "Deux"}},
        headers={**callers.operator, **MERGE_PATCH, **GZIP, "If-Match": '"1-gzip"'},
    )  # fmt: skip
    assert stale.status_code == 412, stale.text
    assert stale.json()["errors"][0]["field"] == "If-Match"
    db.expire_all()
    cabin = db.get(Cabin, cabin_id)
    assert cabin is not None and cabin.version == 2


def test_a_weak_gzip_suffixed_tag_still_never_matches(client: TestClient, callers: Callers) -> None:
    url = f"/v1/cabins/{created_cabin(client, callers)}"
    response = client.patch(
        url, json={"venue": {"name": "Un"}},
        headers={**callers.operator, **MERGE_PATCH, "If-Match": 'W/"1-gzip"'},
    )  # fmt: skip
    assert response.status_code == 412


def test_conditions_are_read_without_the_gzip_suffix() -> None:
    assert identity_tags(b'"3-gzip"') == b'"3"'
    assert identity_tags(b'"7", "3-gzip" ,"x"') == b'"7", "3" ,"x"'
    assert identity_tags(b'W/"3-gzip"') == b'W/"3-gzip"'  # never given: a weak tag is shared
    assert identity_tags(b"*") == b"*"
    assert identity_tags(b'"3"') == b'"3"'
    assert gzip_etag(b'"3"') == b'"3-gzip"'
    assert gzip_etag(b'W/"ab12"') == b'W/"ab12"'


@pytest.fixture(scope="module")
def toy() -> TestClient:
    app = FastAPI()
    app.add_middleware(GzipMiddleware)
    big = b'{"x": "' + b"a" * (MINIMUM_BYTES * 2) + b'"}'

    @app.get("/strong")
    def strong() -> Response:
        return Response(big, media_type="application/json", headers={"ETag": '"9"'})

    @app.get("/weak")
    def weak() -> Response:
        return Response(big, media_type="application/json", headers={"ETag": 'W/"9"'})

    @app.get("/small")
    def small() -> Response:
        return Response(b"{}", media_type="application/json", headers={"ETag": '"9"'})

    @app.get("/page")
    def page() -> Response:
        return Response(b"<p>" * MINIMUM_BYTES, media_type="text/html", headers={"ETag": '"9"'})

    @app.get("/vary-origin")
    def vary_origin() -> Response:
        return Response(big, media_type="application/json", headers={"Vary": "Origin"})

    @app.get("/streamed")
    def streamed() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield big

        return StreamingResponse(chunks(), media_type="text/csv")

    @app.get("/public/things")
    def not_modified() -> Response:
        return Response(status_code=304, headers={"ETag": 'W/"9"'})

    @app.get("/conditions")
    def conditions(request: Request) -> dict[str, str | None]:
        return {name: request.headers.get(name) for name in ("if-match", "if-none-match")}

    @app.get("/static/carte.js")
    def asset_not_modified() -> Response:
        return Response(status_code=304, headers={"ETag": '"9"'})

    return TestClient(app)


def test_a_weak_etag_and_an_uncompressed_answers_etag_stay_as_they_are(toy: TestClient) -> None:
    assert toy.get("/weak", headers=GZIP).headers["ETag"] == 'W/"9"'
    for path in ("/small", "/page"):
        response = toy.get(path, headers=GZIP)
        assert "content-encoding" not in response.headers
        assert response.headers["ETag"] == '"9"'
    assert toy.get("/strong", headers=PLAIN).headers["ETag"] == '"9"'
    assert toy.get("/strong", headers=GZIP).headers["ETag"] == '"9-gzip"'


@pytest.mark.parametrize("path", ["/strong", "/streamed"])
def test_the_plain_answer_varies_on_accept_encoding_too(toy: TestClient, path: str) -> None:
    """A shared cache must not hand the plain answer it stored to a client that takes gzip as
    if no other coding existed, nor the reverse."""
    for headers in (PLAIN, {"Accept-Encoding": "gzip;q=0"}, GZIP):
        response = toy.get(path, headers=headers)
        assert response.headers["Vary"] == "Accept-Encoding", headers


def test_vary_is_added_to_the_answers_own_and_only_where_the_coding_may_change(
    toy: TestClient,
) -> None:
    vary = toy.get("/vary-origin", headers=PLAIN).headers.get_list("Vary")
    assert [t.strip() for v in vary for t in v.split(",")] == ["Origin", "Accept-Encoding"]
    for path in ("/small", "/page"):  # never gzipped: the same bytes for every client
        assert "vary" not in toy.get(path, headers=PLAIN).headers


@pytest.mark.parametrize("headers", [PLAIN, GZIP])
def test_a_304_of_the_api_varies_as_its_200_does(toy: TestClient, headers: dict[str, str]) -> None:
    """RFC 9110 §15.4.5: a 304 says the `Vary` its 200 would; an API answer may be gzipped, an
    asset of the web app is not."""
    response = toy.get("/public/things", headers=headers)
    assert response.status_code == 304
    assert response.headers["Vary"] == "Accept-Encoding"
    assert response.headers["ETag"] == 'W/"9"'
    asset = toy.get("/static/carte.js", headers=headers)
    assert asset.status_code == 304
    assert "vary" not in asset.headers
    assert asset.headers["ETag"] == '"9"'


@pytest.mark.parametrize(
    ("accept_encoding", "gzipped"),
    [
        ("gzip", True),
        ("gzip;q=0.5, identity;q=0.2", True),
        ("*", True),
        ("identity;q=0, *;q=0.3", True),
        ("gzip;q=0.5, identity", False),  # the plain answer is preferred
        ("gzip;q=0", False),
        ("*;q=0", False),
        ("identity;q=0", False),  # gzip not taken either: plain (RFC 9110 §12.5.3)
    ],
)
def test_gzip_is_chosen_by_the_clients_weights(
    toy: TestClient, accept_encoding: str, gzipped: bool
) -> None:
    response = toy.get("/strong", headers={"Accept-Encoding": accept_encoding})
    assert (response.headers.get("content-encoding") == "gzip") is gzipped


def test_only_if_match_is_read_without_the_gzip_suffix(toy: TestClient) -> None:
    """A cabin's strong ETag is its version, for If-Match; no route answers 304 to a strong
    If-None-Match (a cabin's read carries its compliance, which changes without the version),
    so If-None-Match reaches the route as the client sent it."""
    seen = toy.get(
        "/conditions", headers={"If-Match": '"3-gzip"', "If-None-Match": '"3-gzip"'}
    ).json()
    assert seen == {"if-match": '"3"', "if-none-match": '"3-gzip"'}
