"""Who may do what: 401 without or with a bad key, another operator's cabin is a 404,
regulators read within their scope and never write, admins manage operators and clients."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from service.audit.models import AuditEvent
from service.auth.deps import require_admin
from service.auth.models import ApiClient
from tests.auth.factories import bearer, client_of, valid_siren
from tests.auth.fixtures import Callers
from tests.cabins.factories import LYON, cabin_body
from tests.locks import in_thread, waits_for_a_lock


def create(client: TestClient, headers: dict[str, str], **kw) -> str:  # type: ignore[no-untyped-def]
    response = client.post("/v1/cabins", json=cabin_body(**kw), headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_no_key_is_401_with_a_bearer_challenge(client: TestClient) -> None:
    response = client.get("/v1/cabins")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["errors"][0]["field"] == "Authorization"


@pytest.mark.parametrize(
    "header",
    [
        "Bearer cr_000000000000_" + "A" * 43,  # well formed, unknown
        "Bearer not-a-key",
        "Basic dXNlcjpwYXNz",
        "Bearer ",
    ],
)
def test_bad_key_is_401(client: TestClient, callers: Callers, header: str) -> None:
    response = client.get("/v1/cabins", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_right_prefix_wrong_secret_is_401(client: TestClient, callers: Callers) -> None:
    key = callers.operator["Authorization"].removeprefix("Bearer ")
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    assert client.get("/v1/cabins", headers=bearer(forged)).status_code == 401


def test_a_revoked_key_is_401_saying_it_was_revoked(
    client: TestClient, callers: Callers, db: Session
) -> None:
    row = client_of(db, callers.operator)
    row.active = False
    db.commit()
    response = client.get("/v1/cabins", headers=callers.operator)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert response.json()["detail"] == "The API key has been revoked."
    assert response.json()["errors"] == [
        {"field": "Authorization", "reason": "The API key has been revoked."}
    ]


def test_a_revoked_prefix_with_a_wrong_secret_is_only_not_valid(
    client: TestClient, callers: Callers, db: Session
) -> None:
    """The prefix is not secret: whether its key was revoked is told to its holder only."""
    key = callers.operator["Authorization"].removeprefix("Bearer ")
    row = client_of(db, callers.operator)
    row.active = False
    db.commit()
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    response = client.get("/v1/cabins", headers=bearer(forged))
    assert response.status_code == 401
    assert response.json()["detail"] == "The API key is not valid."


def test_only_the_hash_of_a_key_is_stored(callers: Callers, db: Session) -> None:
    key = callers.operator["Authorization"].removeprefix("Bearer ")
    row = client_of(db, callers.operator)
    assert key not in (row.key_hash, row.key_prefix)
    assert len(row.key_hash) == 64


def test_another_operators_cabin_is_404_everywhere(client: TestClient, callers: Callers) -> None:
    cabin_id = create(client, callers.operator)
    other = callers.other_operator
    url = f"/v1/cabins/{cabin_id}"
    assert client.get(url, headers=other).status_code == 404
    assert client.get(f"{url}/history", headers=other).status_code == 404
    assert (
        client.patch(url, json={"venue": {"name": "x"}}, headers={**other, "If-Match": '"1"'})
    ).status_code == 404
    assert (
        client.post(f"{url}/transitions", json={"to": "declared"}, headers=other)
    ).status_code == 404
    assert client.delete(url, headers=other).status_code == 404
    assert client.get("/v1/cabins", headers=other).json()["items"] == []
    # and it is untouched
    assert client.get(url, headers=callers.operator).json()["version"] == 1


def test_regulator_cannot_write(client: TestClient, callers: Callers) -> None:
    cabin_id = create(client, callers.operator)
    reg = callers.regulator
    assert client.post("/v1/cabins", json=cabin_body(), headers=reg).status_code == 403
    url = f"/v1/cabins/{cabin_id}"
    patch = client.patch(url, json={"venue": {"name": "x"}}, headers={**reg, "If-Match": '"1"'})
    assert patch.status_code == 403
    assert (
        client.post(f"{url}/transitions", json={"to": "declared"}, headers=reg).status_code == 403
    )
    assert client.delete(url, headers=reg).status_code == 403


def test_regulators_read_within_their_scope(client: TestClient, callers: Callers) -> None:
    paris = create(client, callers.operator, reference="P")
    lyon = create(client, callers.other_operator, reference="L", location={**LYON})
    national = client.get("/v1/cabins", headers=callers.regulator).json()["items"]
    assert {c["id"] for c in national} >= {paris, lyon}
    regional = callers.regulator_auvergne_rhone_alpes
    assert [c["id"] for c in client.get("/v1/cabins", headers=regional).json()["items"]] == [lyon]
    assert client.get(f"/v1/cabins/{paris}", headers=regional).status_code == 404
    assert client.get(f"/v1/cabins/{lyon}/history", headers=regional).status_code == 200


def test_admin_sees_every_cabin(client: TestClient, callers: Callers) -> None:
    a = create(client, callers.operator, reference="A")
    b = create(client, callers.other_operator, reference="B")
    assert client.get(f"/v1/cabins/{a}", headers=callers.admin).status_code == 200
    assert client.get(f"/v1/cabins/{b}", headers=callers.admin).status_code == 200


def test_admin_creates_an_operator_and_its_key_works(client: TestClient, callers: Callers) -> None:
    siren = valid_siren()
    response = client.post(
        "/v1/operators", json={"name": "Pharmacie X", "siren": siren}, headers=callers.admin
    )
    assert response.status_code == 201, response.text
    operator_id = response.json()["id"]
    assert response.headers["Location"] == f"/v1/operators/{operator_id}"
    again = client.post(
        "/v1/operators", json={"name": "Pharmacie X", "siren": siren}, headers=callers.admin
    )
    assert again.status_code == 409
    created = client.post(
        "/v1/clients", json={"role": "operator", "operator_id": operator_id}, headers=callers.admin
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    response = client.post("/v1/cabins", json=cabin_body(), headers=bearer(key))
    assert response.status_code == 201
    assert response.json()["operator_id"] == operator_id


def test_operator_with_an_invalid_siren_is_422(client: TestClient, callers: Callers) -> None:
    response = client.post(
        "/v1/operators", json={"name": "X", "siren": "123456789"}, headers=callers.admin
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "siren"


def test_an_operator_refused_names_every_wrong_field_at_once(
    client: TestClient, callers: Callers
) -> None:
    """A SIREN whose key does not hold was checked only once the other fields had passed: a
    blank name hid it, to be told on the next try."""
    response = client.post(
        "/v1/operators",
        json={"name": " ", "siren": "123456789", "contact_email": "contact@exa"},
        headers=callers.admin,
    )
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["name", "siren", "contact_email"]


def test_a_siren_whose_key_does_not_hold_is_refused_as_a_siret_is(
    client: TestClient, callers: Callers
) -> None:
    """One wording for both identifiers, whether an operator or a cabin record holds it."""
    operator = client.post(
        "/v1/operators", json={"name": "X", "siren": "123456789"}, headers=callers.admin
    )
    cabin = client.post(
        "/v1/cabins", json=cabin_body(venue__siret="73282932000075"), headers=callers.operator
    )
    assert operator.json()["errors"] == [
        {
            "field": "siren",
            "reason": "not a valid SIREN: 9 digits whose Luhn check key does not hold",
        }
    ]
    assert {
        "field": "venue.siret",
        "reason": "not a valid SIRET: 14 digits whose Luhn check key does not hold",
    } in cabin.json()["errors"]


def test_a_parameter_of_the_wrong_type_is_said_in_the_registrys_words(
    client: TestClient, callers: Callers
) -> None:
    """Pydantic said "Input should be a valid UUID, invalid character: found `n` at 0"."""
    listed = client.get(
        "/v1/clients",
        params={"operator_id": "nope", "active": "maybe", "limit": "ten"},
        headers=callers.admin,
    )
    assert listed.status_code == 400
    assert listed.json()["errors"] == [
        {"field": "operator_id", "reason": UUID_WORDS},
        {
            "field": "active",
            "reason": "must be true or false (1/0, yes/no and on/off are read too)",
        },
        {"field": "limit", "reason": "must be a whole number, e.g. 2"},
    ]
    read = client.get("/v1/operators/not-a-uuid", headers=callers.admin)
    assert read.status_code == 400
    assert read.json()["errors"] == [{"field": "operator_id", "reason": UUID_WORDS}]
    assert read.json()["detail"] == f"The parameter `operator_id` is not valid: {UUID_WORDS}."


UUID_WORDS = "must be a UUID, e.g. 3fa85f64-5717-4562-b3fc-2c963f66afa6"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "operator"}, "operator_id"),
        ({"role": "regulator"}, "scope"),
        ({"role": "regulator", "scope": "region:99"}, "scope"),
        ({"role": "admin", "scope": "national"}, "scope"),
        ({"role": "admin", "name": "   "}, "name"),
    ],
)
def test_client_creation_checks_role_fields(
    client: TestClient, callers: Callers, body: dict, field: str
) -> None:
    """The field is named as sent: `name`, not the union's `admin.name`."""
    response = client.post("/v1/clients", json=body, headers=callers.admin)
    assert response.status_code == 422
    assert field in {e["field"] for e in response.json()["errors"]}


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        (
            {"role": "operator"},
            "operator_id",
            "required for an operator key: the operator whose cabins the key manages",
        ),
        (
            {"role": "regulator"},
            "scope",
            "required for a regulator key: its scope, national or region:<INSEE region code>",
        ),
        (
            {"role": "admin", "operator_id": "00000000-0000-0000-0000-000000000001"},
            "operator_id",
            "an admin key takes no operator_id; only operator keys have one",
        ),
        (
            {
                "role": "operator",
                "operator_id": "00000000-0000-0000-0000-000000000001",
                "scope": "national",
            },
            "scope",
            "an operator key takes no scope; only regulator keys have one",
        ),
    ],
)
def test_a_role_field_missing_or_misplaced_is_said_for_the_role(
    client: TestClient, callers: Callers, body: dict, field: str, reason: str
) -> None:
    response = client.post("/v1/clients", json=body, headers=callers.admin)
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": field, "reason": reason}]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"role": "root"}, "must be operator, regulator or admin"),
        ({}, "is required; one of operator, regulator or admin"),
        ({"role": None, "name": "x"}, "is required; one of operator, regulator or admin"),
    ],
)
def test_an_unknown_or_missing_role_is_said_naming_role(
    client: TestClient, callers: Callers, body: dict, reason: str
) -> None:
    """Pydantic said "Input tag 'root' found using 'role' does not match…" of the body."""
    response = client.post("/v1/clients", json=body, headers=callers.admin)
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "role", "reason": reason}]


def test_an_empty_client_name_is_said_in_the_registrys_words(
    client: TestClient, callers: Callers
) -> None:
    response = client.post("/v1/clients", json={"role": "admin", "name": ""}, headers=callers.admin)
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "name", "reason": "must not be empty"}]


def test_regional_regulator_key_from_the_api(client: TestClient, callers: Callers) -> None:
    response = client.post(
        "/v1/clients", json={"role": "regulator", "scope": "region:84"}, headers=callers.admin
    )
    assert response.status_code == 201
    assert response.json()["scope"] == "region:84"
    assert "key_hash" not in response.json()


@pytest.mark.parametrize("who", ["operator", "regulator"])
def test_admin_api_is_for_admins_only(client: TestClient, callers: Callers, who: str) -> None:
    headers = getattr(callers, who)
    body = {"name": "X", "siren": valid_siren()}
    assert client.post("/v1/operators", json=body, headers=headers).status_code == 403
    assert client.post("/v1/clients", json={"role": "admin"}, headers=headers).status_code == 403


def test_admin_lists_and_revokes_a_client_whose_key_then_stops_working(
    client: TestClient, callers: Callers, db: Session
) -> None:
    assert client.get("/v1/cabins", headers=callers.operator).status_code == 200
    listed = client.get(
        "/v1/clients", params={"operator_id": str(callers.operator_id)}, headers=callers.admin
    )
    assert listed.status_code == 200
    assert set(listed.json()) == {"items", "next"}
    (mine,) = listed.json()["items"]
    assert mine["role"] == "operator" and mine["active"] is True and "key" not in mine

    revoked = client.delete(
        f"/v1/clients/{mine['id']}", params={"reason": "key leaked"}, headers=callers.admin
    )
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    assert client.get("/v1/cabins", headers=callers.operator).status_code == 401
    assert client.get(f"/v1/clients/{mine['id']}", headers=callers.admin).json()["active"] is False
    still = client.get("/v1/clients", params={"active": "true"}, headers=callers.admin).json()
    assert mine["id"] not in [c["id"] for c in still["items"]]
    events = db.execute(
        select(AuditEvent.action, AuditEvent.diff, AuditEvent.reason).where(
            AuditEvent.target_id == mine["id"], AuditEvent.action == "client.revoke"
        )
    ).all()
    assert [tuple(e) for e in events] == [
        ("client.revoke", {"active": [True, False]}, "key leaked")
    ]
    # revoking again changes nothing and records nothing more
    assert client.delete(f"/v1/clients/{mine['id']}", headers=callers.admin).status_code == 200
    assert (
        len(db.scalars(select(AuditEvent.id).where(AuditEvent.target_id == mine["id"])).all()) == 2
    )


def test_the_client_list_pages_with_next_links(client: TestClient, callers: Callers) -> None:
    for n in range(3):  # beside the callers' keys: three pages of three at least
        created = client.post(
            "/v1/clients",
            json={"role": "regulator", "scope": "national", "name": f"Lecteur {n}"},
            headers=callers.admin,
        )
        assert created.status_code == 201, created.text
    everyone = client.get("/v1/clients", headers=callers.admin).json()
    assert everyone["next"] is None
    expected = [c["id"] for c in everyone["items"]]
    assert len(expected) >= 7  # the callers' keys, these three, and any the database holds
    seen: list[str] = []
    url: str | None = "/v1/clients?limit=3"
    while url:
        page = client.get(url, headers=callers.admin)
        assert page.status_code == 200, page.text
        assert len(page.json()["items"]) <= 3
        seen += [c["id"] for c in page.json()["items"]]
        url = page.json()["next"]
    assert seen == expected
    mine = client.get(
        "/v1/clients",
        params={"operator_id": str(callers.operator_id), "limit": 1},
        headers=callers.admin,
    ).json()
    assert len(mine["items"]) == 1 and mine["next"] is None


@pytest.mark.parametrize("after", ["A" * 22, "not-a-cursor", "A" * 33])
def test_a_client_cursor_of_another_shape_is_400(
    client: TestClient, callers: Callers, after: str
) -> None:
    response = client.get("/v1/clients", params={"after": after}, headers=callers.admin)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["after"]


@pytest.mark.parametrize(
    ("after", "count"),
    [("A" * 32, "all"), ("_" * 32, "all"), ("g" + "A" * 31, "all"), ("f" * 32, 0)],
)
def test_a_client_cursor_the_service_did_not_give_is_a_place_in_the_list(
    client: TestClient, callers: Callers, after: str, count: str | int
) -> None:
    everyone = client.get("/v1/clients", headers=callers.admin).json()["items"]
    response = client.get("/v1/clients", params={"after": after}, headers=callers.admin)
    assert response.status_code == 200, response.text
    assert len(response.json()["items"]) == (len(everyone) if count == "all" else count)


@pytest.mark.parametrize(
    ("who", "method", "path", "needed", "sent"),
    [
        ("regulator", "POST", "/v1/operators", "an admin", "a regulator"),
        ("operator", "GET", "/v1/clients", "an admin", "an operator"),
        ("regulator", "POST", "/v1/rule-sets", "an admin", "a regulator"),
        ("operator", "POST", "/v1/rule-sets/2026.1/publish", "an admin", "an operator"),
        ("regulator", "POST", "/v1/cabins", "an operator or admin", "a regulator"),
        ("regulator", "POST", "/v1/cabins/import", "an operator or admin", "a regulator"),
        ("operator", "GET", "/v1/compliance/coverage", "a regulator or admin", "an operator"),
    ],
)
def test_a_refused_key_is_told_what_the_route_needs(
    client: TestClient,
    callers: Callers,
    who: str,
    method: str,
    path: str,
    needed: str,
    sent: str,
) -> None:
    response = client.request(method, path, json={}, headers=getattr(callers, who))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["detail"] == f"This route needs {needed} key; {sent} key was sent."
    assert body["errors"] == [
        {"field": "Authorization", "reason": f"needs {needed} key, not {sent} key"}
    ]


def _admin_only_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) whose dependencies demand an admin key, walking included routers."""

    def needs_admin(dependant: Dependant) -> bool:
        return any(d.call is require_admin or needs_admin(d) for d in dependant.dependencies)

    def walk(routes: list[Any], prefix: str) -> Iterator[tuple[str, str]]:
        for route in routes:
            router = getattr(route, "original_router", None)
            if router is not None:
                yield from walk(router.routes, prefix + route.include_context.prefix)
            elif isinstance(route, APIRoute) and needs_admin(route.dependant):
                for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
                    yield method, prefix + route.path

    return sorted(set(walk(list(app.routes), "")))


def test_every_admin_route_tells_other_keys_it_needs_an_admin_key(
    app: FastAPI, client: TestClient, callers: Callers
) -> None:
    routes = _admin_only_routes(app)
    assert {path for _, path in routes} >= {
        "/v1/operators",
        "/v1/operators/{operator_id}",
        "/v1/clients",
        "/v1/clients/{client_id}",
        "/v1/rule-sets",
        "/v1/rule-sets/{version}/publish",
    }
    for method, template in routes:
        path = re.sub(r"\{version\}", "2026.1", template)
        path = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
        for who, sent in (("operator", "an operator"), ("regulator", "a regulator")):
            response = client.request(method, path, json={}, headers=getattr(callers, who))
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["detail"] == (
                f"This route needs an admin key; {sent} key was sent."
            ), (method, path)


def test_every_admin_route_says_so_in_its_summary(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    for method, template in _admin_only_routes(app):
        summary = paths[template][method.lower()]["summary"]
        assert "(admin)" in summary, (method, template, summary)


def test_a_new_client_is_answered_with_its_location(client: TestClient, callers: Callers) -> None:
    created = client.post("/v1/clients", json={"role": "admin"}, headers=callers.admin)
    assert created.status_code == 201
    location = created.headers["Location"]
    assert location == f"/v1/clients/{created.json()['id']}"
    read = client.get(location, headers=callers.admin)
    assert read.status_code == 200 and read.json()["id"] == created.json()["id"]


@pytest.mark.parametrize(("name", "recorded"), [("Console ARS", "Console ARS"), (None, "admin")])
def test_the_creation_of_a_client_is_audited_with_its_name_never_its_key(
    client: TestClient, callers: Callers, db: Session, name: str | None, recorded: str
) -> None:
    body = {"role": "admin"} | ({"name": name} if name else {})
    created = client.post("/v1/clients", json=body, headers=callers.admin)
    assert created.status_code == 201
    (diff,) = db.scalars(
        select(AuditEvent.diff).where(
            AuditEvent.target_id == created.json()["id"], AuditEvent.action == "client.create"
        )
    ).all()
    assert diff == {
        "name": [None, recorded],
        "role": [None, "admin"],
        "operator_id": [None, None],
        "scope": [None, None],
    }
    row = db.get(ApiClient, uuid.UUID(created.json()["id"]))
    assert row is not None
    said = json.dumps(diff)
    assert created.json()["key"] not in said and row.key_hash not in said


def test_the_last_active_admin_key_is_not_revoked(
    client: TestClient, callers: Callers, db: Session
) -> None:
    """Revoking it locked every admin out: only the command line could make a key again."""
    mine = client_of(db, callers.admin)
    db.execute(
        update(ApiClient)
        .where(ApiClient.role == "admin", ApiClient.id != mine.id)
        .values(active=False)
    )
    db.commit()  # as a request's failure rolls back what it did, not this
    refused = client.delete(f"/v1/clients/{mine.id}", headers=callers.admin)
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert "last active admin key" in refused.json()["detail"]
    assert "Create another admin key first" in refused.json()["detail"]
    assert refused.json()["errors"] == [
        {"field": "client_id", "reason": "the last active admin key"}
    ]
    db.refresh(mine)
    assert mine.active is True
    assert (
        db.scalar(
            select(func.count()).where(
                AuditEvent.target_id == str(mine.id), AuditEvent.action == "client.revoke"
            )
        )
        == 0
    )
    # with another admin key, this one may go
    other = client.post("/v1/clients", json={"role": "admin"}, headers=callers.admin)
    assert other.status_code == 201
    assert client.delete(f"/v1/clients/{mine.id}", headers=callers.admin).status_code == 200
    last = client.delete(f"/v1/clients/{other.json()['id']}", headers=bearer(other.json()["key"]))
    assert last.status_code == 409


def test_only_an_admin_manages_clients(client: TestClient, callers: Callers) -> None:
    for headers in (callers.operator, callers.regulator):
        assert client.get("/v1/clients", headers=headers).status_code == 403
        assert client.delete(f"/v1/clients/{uuid.uuid4()}", headers=headers).status_code == 403
    missing = client.delete(f"/v1/clients/{uuid.uuid4()}", headers=callers.admin)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"contact_email": "nope"}, "contact_email"),
        ({"contact_email": "a@b"}, "contact_email"),
        ({"contact_email": "a b@example.fr"}, "contact_email"),
        ({"contact_email": "a@@example.fr"}, "contact_email"),
        ({"contact_email": "a@example..fr"}, "contact_email"),
        ({"contact_phone": "call me"}, "contact_phone"),
        ({"contact_phone": "12"}, "contact_phone"),
        ({"contact_phone": "+33 6 12 34 56 78 90 12 34"}, "contact_phone"),
        ({"name": "Pharmacie\u0007Y"}, "name"),  # a control character was stored
        ({"name": "Pharmacie\nY"}, "name"),
        ({"contact_email": "a\u0085@example.fr"}, "contact_email"),
    ],
)
def test_an_operator_with_a_bad_name_or_contact_is_422_naming_it(
    client: TestClient, callers: Callers, extra: dict, field: str
) -> None:
    body = {"name": "Pharmacie Y", "siren": valid_siren(), **extra}
    response = client.post("/v1/operators", json=body, headers=callers.admin)
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["field"] == field
    assert error["reason"]


def test_an_operator_contact_is_kept_as_written(client: TestClient, callers: Callers) -> None:
    body = {
        "name": "Pharmacie Z",
        "siren": valid_siren(),
        "contact_email": " Contact@Pharmacie-Z.fr ",
        "contact_phone": "04 72 00 00 00",
    }
    response = client.post("/v1/operators", json=body, headers=callers.admin)
    assert response.status_code == 201, response.text
    assert response.json()["contact_email"] == "Contact@Pharmacie-Z.fr"
    assert response.json()["contact_phone"] == "04 72 00 00 00"


def test_two_admins_revoking_each_others_key_at_once_cannot_both_succeed(
    engine: Engine,
) -> None:
    """The last-key check is made under a lock on every active admin key: the second
    revocation waits for the first, then sees one admin key left and is refused. Each side
    has its own connection, as two requests would; the keys are committed for real."""
    from service.audit.trail import CLI_ACTOR
    from service.auth.service import create_client, revoke_client
    from service.errors import Conflict

    with Session(engine) as setup:
        others = list(
            setup.scalars(
                update(ApiClient)
                .where(ApiClient.role == "admin", ApiClient.active.is_(True))
                .values(active=False)
                .returning(ApiClient.id)
            )
        )
        first = create_client(setup, CLI_ACTOR, role="admin", name="admin A").client.id
        second = create_client(setup, CLI_ACTOR, role="admin", name="admin B").client.id
        setup.commit()
    try:
        with Session(engine) as one, Session(engine) as two:
            revoke_client(one, CLI_ACTOR, second)  # holds the admin keys' locks, uncommitted
            pid = two.scalar(text("SELECT pg_backend_pid()"))
            waiting, outcome = in_thread(lambda: revoke_client(two, CLI_ACTOR, first), two)
            if not waits_for_a_lock(engine, pid):  # on the first's row locks
                pytest.fail("the second revocation never waited for the first")
            one.commit()
            waiting.join(timeout=30)
            assert isinstance(outcome.get("error"), Conflict), outcome
        with Session(engine) as check:
            active = {
                c.id: c.active
                for c in check.scalars(select(ApiClient).where(ApiClient.id.in_([first, second])))
            }
            assert active == {first: True, second: False}
    finally:
        with Session(engine) as cleanup:
            cleanup.execute(update(ApiClient).where(ApiClient.id.in_(others)).values(active=True))
            cleanup.commit()
