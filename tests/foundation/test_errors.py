"""Every error the service answers is problem+json with the right status."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
)
from sqlalchemy import text

from service.app import create_app
from service.db import DbSession
from service.errors import PROBLEM_MEDIA_TYPE, field_errors, pydantic_reason, reworded
from service.routing import ApiRoute
from service.settings import Settings


class Echo(BaseModel):
    name: str
    count: int


class Limited(BaseModel):
    name: Annotated[str, Field(min_length=1)]
    count: Annotated[int, Field(ge=1)]
    ratio: Annotated[float, Field(allow_inf_nan=False)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str


def _app_with_probe_routes(settings: Settings, max_body_bytes: int = 1024) -> FastAPI:
    app = create_app(settings.model_copy(update={"max_body_bytes": max_body_bytes}))
    router = APIRouter(route_class=ApiRoute)

    @router.post("/_probe/echo")
    def echo(body: Echo) -> Echo:
        return body

    @router.get("/_probe/typed/{n}")
    def typed(
        n: int, on: bool | None = None, day: date | None = None, id: uuid.UUID | None = None
    ) -> None:
        return None

    @router.post("/_probe/echo/{n}")
    def echo_n(n: int, body: Echo) -> Echo:
        return body

    @router.post("/_probe/limits")
    def limits(body: Limited) -> None:
        return None

    @router.get("/_probe/boom")
    def boom() -> None:
        raise RuntimeError("secret internal detail")

    @router.get("/_probe/slow")
    def slow(session: DbSession) -> None:
        session.execute(text("SELECT pg_sleep(2)"))

    @router.post("/_probe/taken/{constraint}")
    def taken(constraint: str, session: DbSession) -> None:  # one key written twice, as in a race
        session.execute(
            text(f"CREATE TEMP TABLE probe (v text, CONSTRAINT {constraint} UNIQUE (v))")
        )
        session.execute(text("INSERT INTO probe VALUES ('REF-1'), ('REF-1')"))

    @router.post("/_probe/undone/{sqlstate}")
    def undone(sqlstate: str, session: DbSession) -> None:  # as PostgreSQL ends a deadlock
        session.execute(
            text(f"DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '{sqlstate}'; END $$")
        )

    @router.post("/_probe/null")
    def null(session: DbSession) -> None:
        session.execute(text("CREATE TEMP TABLE probe (name text NOT NULL)"))
        session.execute(text("INSERT INTO probe VALUES (NULL)"))

    app.include_router(router)
    return app


def _probe_client(settings: Settings, max_body_bytes: int = 1024) -> TestClient:
    return TestClient(
        _app_with_probe_routes(settings, max_body_bytes), raise_server_exceptions=False
    )


def test_unknown_path_is_404_problem(client: TestClient) -> None:
    response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = response.json()
    assert body["status"] == 404
    assert body["title"] == "Not found"
    assert body["type"].endswith("/not-found")


def test_wrong_method_is_405_problem_with_allow(client: TestClient) -> None:
    response = client.delete("/health")
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert "GET" in response.headers["allow"]


@pytest.mark.parametrize("path", ["/health", "/ogc/conformance", "/v1/rule-sets"])
def test_head_is_get_without_the_body(client: TestClient, path: str) -> None:
    got = client.get(path)
    head = client.head(path)
    assert (head.status_code, got.status_code) == (200, 200)
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.headers["content-length"] == got.headers["content-length"]


def test_head_on_a_path_without_get_is_405(client: TestClient) -> None:
    response = client.head("/v1/cabins/import")
    assert response.status_code == 405
    assert "GET" not in response.headers["allow"]


def test_malformed_json_is_400_problem_naming_the_body(settings: Settings) -> None:
    response = _probe_client(settings).post(
        "/_probe/echo", content=b'{"name": "x", ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["errors"][0]["field"] == "body"


def test_wrong_content_type_is_415_problem(settings: Settings) -> None:
    response = _probe_client(settings).post(
        "/_probe/echo", content=b"name=x", headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["errors"] == [
        {"field": "Content-Type", "reason": "must be application/json"}
    ]


def test_a_bad_parameter_with_a_bad_body_says_both(settings: Settings) -> None:
    response = _probe_client(settings).post("/_probe/echo/x", json={"name": "a", "count": "b"})
    assert response.status_code == 422
    assert response.json()["detail"] == "A parameter of the request and its body are not valid."
    assert {e["field"] for e in response.json()["errors"]} == {"n", "count"}


def test_invalid_body_is_422_with_field_and_reason(settings: Settings) -> None:
    response = _probe_client(settings).post("/_probe/echo", json={"name": "x", "count": "many"})
    assert response.status_code == 422
    body = response.json()
    assert body["errors"][0]["field"] == "count"
    assert body["errors"][0]["reason"] == "must be a whole number, e.g. 2"


# A value of the wrong type, by the registry's words for it (never Pydantic's "Input should
# be a valid …"), whichever model or parameter refused it.
TYPE_WORDS = [
    (int, "two", "must be a whole number, e.g. 2"),
    (int, 2.5, "must be a whole number, e.g. 2"),
    (float, "90 cm", "must be a number, e.g. 90 or 90.5"),
    (bool, "maybe", "must be true or false (1/0, yes/no and on/off are read too)"),
    (date, "2026/1/15", "must be a date written YYYY-MM-DD, e.g. 2026-01-15"),
    (
        date,
        "15/01/2026",
        "must be a date written YYYY-MM-DD: 15/01/2026 is written 2026-01-15 if it is"
        " day/month/year",
    ),
    (date, "2026-02-30", "2026-02-30 is not a day of the calendar"),
    (uuid.UUID, "not-a-uuid", "must be a UUID, e.g. 3fa85f64-5717-4562-b3fc-2c963f66afa6"),
    (str, 12, "must be text (a string)"),
    (list[str], "a", "must be a list (an array)"),
    (Echo, "a", 'must be an object ({"name": value, …})'),
    (Literal["a", "b"], "c", "'c' is not one of the values the registry takes: 'a' or 'b'"),
    (Literal["a", "b"], 3, "must be one of the values the registry takes: 'a' or 'b'"),
]


# A value past a limit, by the registry's words with the limit of the field (never
# Pydantic's "String should have at least 1 character" or "Input should be greater than …").
LIMIT_WORDS = [
    (Annotated[str, Field(min_length=1)], "", "must not be empty"),
    (Annotated[str, Field(min_length=3)], "ab", "must be at least 3 characters long"),
    (Annotated[str, Field(max_length=200)], "x" * 201, "must be at most 200 characters long"),
    (Annotated[str, Field(max_length=1)], "xy", "must be at most 1 character long"),
    (Annotated[list[int], Field(min_length=1)], [], "must not be empty"),
    (Annotated[list[int], Field(min_length=2)], [1], "must hold at least 2 items"),
    (Annotated[list[int], Field(max_length=2)], [1, 2, 3], "must hold at most 2 items"),
    (Annotated[int, Field(ge=1)], 0, "must be at least 1"),
    (Annotated[float, Field(ge=-90.0)], -91, "must be at least -90"),
    (Annotated[float, Field(gt=0)], 0, "must be greater than 0"),
    (Annotated[float, Field(le=0.5)], 1, "must be at most 0.5"),
    (Annotated[int, Field(lt=10)], 10, "must be less than 10"),
    (Annotated[int, Field(multiple_of=5)], 7, "must be a multiple of 5"),
    (Annotated[float, Field(allow_inf_nan=False)], float("nan"), "must be a finite number"),
    (Annotated[float, Field(allow_inf_nan=False)], float("inf"), "must be a finite number"),
    (
        AnyHttpUrl,
        "not a url",
        "must be a web address starting http:// or https://, e.g. https://example.fr/notice",
    ),
    (
        AnyHttpUrl,
        "ftp://example.fr",
        "must be a web address starting http:// or https://, e.g. https://example.fr/notice",
    ),
    (
        Annotated[str, Field(pattern=r"^[a-z]+$")],
        "A",
        "is not written in the form the registry takes here",
    ),
    (Echo, [1], 'must be an object ({"name": value, …})'),
]


@pytest.mark.parametrize(("kind", "value", "reason"), TYPE_WORDS + LIMIT_WORDS)
def test_a_value_of_the_wrong_type_or_past_a_limit_is_said_in_the_registrys_words(
    kind: Any, value: Any, reason: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        TypeAdapter(kind).validate_python(value)
    assert [pydantic_reason(e) for e in refused.value.errors()] == [reason]


def test_an_error_the_registry_has_no_words_for_is_not_said_in_pydantics() -> None:
    with pytest.raises(ValidationError) as refused:
        TypeAdapter(frozenset[int]).validate_python("ab")
    error = refused.value.errors()[0]
    assert error["type"] == "frozen_set_type"
    assert pydantic_reason(error) == "is not a value the registry takes here"


def test_a_validators_own_reason_stands() -> None:
    with pytest.raises(ValidationError) as refused:
        TypeAdapter(Annotated[str, AfterValidator(_refuse)]).validate_python("x")
    assert [pydantic_reason(e) for e in refused.value.errors()] == ["not this one"]


def _refuse(value: str) -> str:
    raise ValueError("not this one")


def test_a_finite_number_and_a_length_are_said_in_a_body(settings: Settings) -> None:
    """JSON has no NaN, but Python's reader takes NaN and Infinity: the body says so."""
    response = _probe_client(settings).post(
        "/_probe/limits",
        content=b'{"name": "", "count": 0, "ratio": NaN}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "name", "reason": "must not be empty"},
        {"field": "count", "reason": "must be at least 1"},
        {"field": "ratio", "reason": "must be a finite number"},
    ]


def test_a_missing_or_unknown_field_is_said_in_the_registrys_words() -> None:
    with pytest.raises(ValidationError) as refused:
        Strict.model_validate({"nmae": "x"})
    assert field_errors(refused.value) == [
        {"field": "name", "reason": "required: it is missing or empty"},
        {"field": "nmae", "reason": "is not a field the registry takes here; check its name"},
    ]


def test_a_reason_a_model_gives_stands_wherever_its_error_is_answered() -> None:
    """`reworded`: what a model says of a field (a role's) reaches the client as it said it."""
    with pytest.raises(ValidationError) as refused:
        Strict.model_validate({})
    said = reworded(refused.value, lambda e: "required to name the probe")
    assert field_errors(said) == [{"field": "name", "reason": "required to name the probe"}]


@pytest.mark.parametrize(
    ("path", "field", "reason"),
    [
        ("/_probe/typed/x", "n", "must be a whole number, e.g. 2"),
        ("/_probe/typed/1?on=maybe", "on", TYPE_WORDS[3][2]),
        ("/_probe/typed/1?day=15/01/2026", "day", TYPE_WORDS[5][2]),
        ("/_probe/typed/1?id=not-a-uuid", "id", TYPE_WORDS[7][2]),
    ],
)
def test_a_parameter_of_the_wrong_type_is_said_as_a_body_field_is(
    settings: Settings, path: str, field: str, reason: str
) -> None:
    response = _probe_client(settings).get(path)
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": field, "reason": reason}]
    assert response.json()["detail"] == f"The parameter `{field}` is not valid: {reason}."
    body = _probe_client(settings).post("/_probe/echo", json={"name": "a", "count": "x"})
    assert body.json()["errors"] == [{"field": "count", "reason": TYPE_WORDS[0][2]}]


def test_body_over_the_limit_is_413_problem(settings: Settings) -> None:
    response = _probe_client(settings).post(
        "/_probe/echo", content=b"x" * 4096, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["errors"] == [{"field": "body", "reason": "over 1024 bytes"}]


def test_chunked_body_over_the_limit_is_413_problem(settings: Settings) -> None:
    def chunks():  # no Content-Length: the limit is counted while reading
        for _ in range(8):
            yield b"x" * 512

    response = _probe_client(settings).post(
        "/_probe/echo", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["field"] == "body"


@pytest.mark.parametrize(
    "content",
    [b'{"name": "\xff", "count": 1}', b"[" * 100_000 + b"]" * 100_000],
    ids=["not-utf8", "nested-too-deep"],
)
def test_a_body_that_cannot_be_read_is_400_naming_the_body(
    settings: Settings, content: bytes
) -> None:
    response = _probe_client(settings, max_body_bytes=1_000_000).post(
        "/_probe/echo", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["errors"][0]["field"] == "body"


def test_unexpected_failure_is_500_with_opaque_id_and_no_trace(settings: Settings) -> None:
    response = _probe_client(settings).get("/_probe/boom")
    assert response.status_code == 500
    body = response.json()
    assert body["error_id"] in body["detail"]
    assert "secret" not in response.text
    assert "Traceback" not in response.text


def test_a_statement_over_the_timeout_is_503_saying_so(settings: Settings) -> None:
    probe = settings.model_copy(update={"db_statement_timeout_ms": 100})
    response = _probe_client(probe).get("/_probe/slow")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.headers["retry-after"] == "30"
    assert "longer than the 0.1 s one request may take" in response.json()["detail"]


@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])  # deadlock, serialization failure
def test_a_write_undone_by_a_concurrent_one_is_503_saying_to_send_it_again(
    settings: Settings, sqlstate: str
) -> None:
    response = _probe_client(settings).post(f"/_probe/undone/{sqlstate}")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.headers["retry-after"] == "1"
    detail = response.json()["detail"]
    assert "concurrent write" in detail and "nothing was written" in detail
    assert "unavailable" not in detail


def test_a_unique_key_taken_by_a_concurrent_write_is_409_naming_it(settings: Settings) -> None:
    """The services check a reference before writing it; a concurrent request can take it in
    between, and PostgreSQL's unique index refuses the second write: a 409, not a 500."""
    client = _probe_client(settings)
    response = client.post("/_probe/taken/uq_cabin_operator_id_operator_reference")
    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["errors"] == [
        {
            "field": "operator_reference",
            "reason": "already used by another cabin (written concurrently)",
        }
    ]
    assert "REF-1" not in response.text  # the key's value is not echoed
    taken = client.post("/_probe/taken/uq_import_job_client_id_idempotency_key").json()
    assert taken["errors"][0]["field"] == "Idempotency-Key"
    # a key no check precedes (a reference the server drew) and other integrity errors are bugs
    assert client.post("/_probe/taken/uq_cabin_reference").status_code == 500
    assert client.post("/_probe/null").status_code == 500


def test_request_id_is_echoed(client: TestClient) -> None:
    response = client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    assert len(client.get("/health").headers["x-request-id"]) == 32
