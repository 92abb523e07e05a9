"""What every route answers around its handler, as a cache, a proxy or a strict client reads
it: no shared cache keeps an answer given to a key, a 405 lists HEAD where GET is allowed,
malformed JSON is refused naming where it stopped making sense, and a body in a content coding
the service does not read is refused naming Content-Encoding."""

from __future__ import annotations

import gzip

import orjson
import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.app import create_app
from service.cabins.models import Cabin
from service.errors import PROBLEM_MEDIA_TYPE
from service.routing import ApiRoute
from service.settings import Settings
from tests.auth.fixtures import Callers
from tests.cabins.factories import cabin_body


def test_an_answer_to_a_key_is_not_stored_by_a_shared_cache(
    client: TestClient, callers: Callers
) -> None:
    created = client.post("/v1/cabins", json=cabin_body(), headers=callers.operator)
    assert created.status_code == 201, created.text
    assert created.headers["Cache-Control"] == "no-store"
    read = client.get(f"/v1/cabins/{created.json()['id']}", headers=callers.operator)
    assert read.headers["Cache-Control"] == "no-store"
    head = client.head(f"/v1/cabins/{created.json()['id']}", headers=callers.operator)
    assert head.headers["Cache-Control"] == "no-store"
    key = client.post(
        "/v1/clients", json={"name": "Script", "role": "admin"}, headers=callers.admin
    )
    assert key.status_code == 201, key.text
    assert key.headers["Cache-Control"] == "no-store"
    refused = client.get("/v1/clients", headers={"Authorization": "Bearer cr_nope_nope"})
    assert refused.status_code == 401
    assert refused.headers["Cache-Control"] == "no-store"


def test_a_route_that_says_how_it_may_be_cached_keeps_it(
    client: TestClient, callers: Callers
) -> None:
    """The public reads do not depend on a key: sent with one, they stay `public`."""
    response = client.get("/ogc/conformance", headers=callers.operator)
    assert response.headers["Cache-Control"].startswith("public")


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/health", "GET, HEAD"),
        ("/v1/cabins", "GET, HEAD, POST"),
        ("/v1/cabins/00000000-0000-0000-0000-000000000000", "DELETE, GET, HEAD, PATCH"),
    ],
)
def test_a_405_allows_head_where_get_is(client: TestClient, path: str, allowed: str) -> None:
    response = client.put(path, json={})
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.headers["Allow"] == allowed


def test_a_405_on_a_post_only_path_does_not_allow_head(client: TestClient) -> None:
    response = client.put("/v1/checks/siting", json={})
    assert response.headers["Allow"] == "POST"


def test_malformed_json_is_400_naming_its_line_and_column(
    client: TestClient, callers: Callers
) -> None:
    body = b'{\n  "operator_reference": "PH-1",\n  "venue": {"name": "a",}\n}'
    response = client.post(
        "/v1/cabins",
        content=body,
        headers={**callers.operator, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    problem = response.json()
    reason = "Expecting property name enclosed in double quotes, at line 3, column 25"
    assert problem["errors"] == [{"field": "body", "reason": reason}]
    assert problem["detail"] == f"The request body is not valid JSON: {reason}."
    assert problem["instance"] == "/v1/cabins"


@pytest.mark.parametrize("coding", ["gzip", "br", "gzip, identity"])
def test_a_body_in_a_content_coding_is_415_naming_content_encoding(
    client: TestClient, callers: Callers, db: Session, coding: str
) -> None:
    before = db.scalar(select(func.count()).select_from(Cabin))
    body = gzip.compress(orjson.dumps(cabin_body()))
    response = client.post(
        "/v1/cabins",
        content=body,
        headers={**callers.operator, "Content-Type": "application/json",
                 "Content-Encoding": coding},
    )  # fmt: skip
    assert response.status_code == 415
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.headers["Accept-Encoding"] == "identity"
    problem = response.json()
    assert problem["errors"][0]["field"] == "Content-Encoding"
    assert problem["instance"] == "/v1/cabins"
    assert db.scalar(select(func.count()).select_from(Cabin)) == before


def test_a_body_said_identity_and_a_get_with_a_coding_are_read(
    client: TestClient, callers: Callers
) -> None:
    response = client.post(
        "/v1/cabins",
        json=cabin_body(),
        headers={**callers.operator, "Content-Encoding": "identity"},
    )
    assert response.status_code == 201, response.text
    read = client.get(
        response.headers["Location"],
        headers={**callers.operator, "Content-Encoding": "gzip"},
    )
    assert read.status_code == 200


class Note(BaseModel):
    text: str


def test_a_streamed_body_over_the_limit_is_refused_by_the_limit_and_not_read_further(
    settings: Settings,
) -> None:
    """A chunked body passing the limit gets the refusal of an announced one, word for word,
    with `Connection: close` (the rest of the body is not read), and the route's own answer to
    its cut-off body is not sent."""
    app = create_app(settings.model_copy(update={"max_body_bytes": 1024}))
    router = APIRouter(route_class=ApiRoute)

    @router.post("/_probe/note")
    def note(body: Note) -> Note:
        return body

    app.include_router(router)
    probe = TestClient(app)

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(8):
            yield b"x" * 512

    json = {"content-type": "application/json"}
    announced = probe.post("/_probe/note", content=b"x" * 4096, headers=json)
    streamed = probe.post("/_probe/note", content=chunks(), headers=json)
    assert announced.status_code == streamed.status_code == 413
    assert streamed.json()["errors"] == [{"field": "body", "reason": "over 1024 bytes"}]
    assert streamed.headers["connection"] == announced.headers["connection"] == "close"
    assert streamed.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert streamed.json() == announced.json()
