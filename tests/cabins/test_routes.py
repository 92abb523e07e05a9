"""Create, read, list and patch cabins through the API. The test client takes gzip, so a
cabin's answer is gzipped and its strong ETag carries the gzip suffix (`"1-gzip"` for version
1, service/compression.py); If-Match takes either."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.audit.models import AuditEvent
from service.cabins.models import Cabin
from tests.auth.fixtures import Callers
from tests.cabins.factories import LYON, cabin_body


def create(client: TestClient, headers: dict[str, str], **kw) -> dict:  # type: ignore[no-untyped-def]
    response = client.post("/v1/cabins", json=cabin_body(**kw), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_create_answers_201_with_location_etag_and_derived_codes(
    client: TestClient, callers: Callers
) -> None:
    response = client.post("/v1/cabins", json=cabin_body(), headers=callers.operator)
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["Location"] == f"/v1/cabins/{body['id']}"
    assert response.headers["ETag"] == '"1-gzip"'
    assert body["reference"].startswith("CAB-") and len(body["reference"]) == 12
    assert body["operator_id"] == str(callers.operator_id)
    assert body["lifecycle"]["status"] == "draft"
    assert body["location"]["commune"] == {
        "insee": "75056",
        "departement": "75",
        "region": "11",
        "epci": "200054781",
        "vintage": body["location"]["commune"]["vintage"],
    }
    assert body["accessibility"]["hearing_loop"] is None  # unknown stays unknown
    assert body["accessibility"]["entree_plain_pied"] is True
    assert body["last_confirmed_at"]["fees"] is not None
    assert body["last_confirmed_at"]["provider"] is None


def test_read_gives_the_cabin_and_its_etag(client: TestClient, callers: Callers) -> None:
    created = create(client, callers.operator)
    response = client.get(f"/v1/cabins/{created['id']}", headers=callers.operator)
    assert response.status_code == 200
    assert response.headers["ETag"] == '"1-gzip"'
    assert response.json() == created


def test_same_operator_reference_twice_is_409(
    client: TestClient, callers: Callers, db: Session
) -> None:
    create(client, callers.operator, reference="R-1")
    response = client.post("/v1/cabins", json=cabin_body("R-1"), headers=callers.operator)
    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "operator_reference"
    # another operator may use the same reference
    assert (
        client.post("/v1/cabins", json=cabin_body("R-1"), headers=callers.other_operator)
    ).status_code == 201


def test_admin_creates_for_a_named_operator_only(client: TestClient, callers: Callers) -> None:
    response = client.post("/v1/cabins", json=cabin_body(), headers=callers.admin)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "operator_id"
    body = cabin_body(operator_id=str(callers.operator_id))
    response = client.post("/v1/cabins", json=body, headers=callers.admin)
    assert response.status_code == 201
    assert response.json()["operator_id"] == str(callers.operator_id)


def test_list_filters_and_pages_with_next_links(client: TestClient, callers: Callers) -> None:
    for i in range(5):
        create(client, callers.operator, reference=f"P-{i}")
    create(client, callers.operator, reference="L-1", location={**LYON})
    create(client, callers.other_operator, reference="X-1")

    seen: list[str] = []
    url: str | None = "/v1/cabins?limit=2"
    while url:
        response = client.get(url, headers=callers.operator)
        assert response.status_code == 200
        page = response.json()
        assert len(page["items"]) <= 2
        seen += [item["operator_reference"] for item in page["items"]]
        url = page["next"]
    assert sorted(seen) == ["L-1", "P-0", "P-1", "P-2", "P-3", "P-4"]  # never X-1

    lyon = client.get("/v1/cabins?departement=69", headers=callers.operator).json()
    assert [c["operator_reference"] for c in lyon["items"]] == ["L-1"]
    assert lyon["next"] is None
    by_ref = client.get("/v1/cabins?reference=P-3", headers=callers.operator).json()
    assert [c["operator_reference"] for c in by_ref["items"]] == ["P-3"]
    public_ref = by_ref["items"][0]["reference"]
    by_public = client.get(f"/v1/cabins?reference={public_ref}", headers=callers.operator).json()
    assert [c["operator_reference"] for c in by_public["items"]] == ["P-3"]
    assert client.get("/v1/cabins?status=active", headers=callers.operator).json()["items"] == []
    pharmacies = client.get("/v1/cabins?venue_kind=pharmacie_officine", headers=callers.operator)
    assert len(pharmacies.json()["items"]) == 6


def test_a_bad_cursor_is_400(client: TestClient, callers: Callers) -> None:
    response = client.get("/v1/cabins?after=not-a-cursor!", headers=callers.operator)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "after"


def test_page_size_is_capped(client: TestClient, callers: Callers, app) -> None:  # type: ignore[no-untyped-def]
    create(client, callers.operator, reference="A")
    create(client, callers.operator, reference="B")
    limit = app.state.settings.page_size_max
    response = client.get(f"/v1/cabins?limit={limit * 10}", headers=callers.operator)
    assert response.status_code == 200
    assert len(response.json()["items"]) == 2


def test_patch_without_if_match_is_428(client: TestClient, callers: Callers) -> None:
    created = create(client, callers.operator)
    response = client.patch(
        f"/v1/cabins/{created['id']}", json={"venue": {"name": "X"}}, headers=callers.operator
    )
    assert response.status_code == 428
    assert response.headers["content-type"] == "application/problem+json"


def test_patch_with_a_stale_etag_is_412_and_changes_nothing(
    client: TestClient, callers: Callers
) -> None:
    created = create(client, callers.operator)
    url = f"/v1/cabins/{created['id']}"
    first = client.patch(
        url, json={"venue": {"name": "Un"}}, headers={**callers.operator, "If-Match": '"1"'}
    )
    assert first.status_code == 200
    assert first.headers["ETag"] == '"2-gzip"'
    stale = client.patch(
        url, json={"venue": {"name": "Deux"}}, headers={**callers.operator, "If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert client.get(url, headers=callers.operator).json()["venue"]["name"] == "Un"


@pytest.mark.parametrize("content", [b"", b"   "])
def test_patch_without_a_body_is_422_naming_the_body(
    client: TestClient, callers: Callers, content: bytes
) -> None:
    created = create(client, callers.operator)
    url = f"/v1/cabins/{created['id']}"
    response = client.patch(
        url,
        content=content,
        headers={
            **callers.operator,
            "If-Match": '"1"',
            "Content-Type": "application/merge-patch+json",
        },
    )
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["body"]
    assert client.get(url, headers=callers.operator).json()["version"] == 1


def test_patch_merges_and_null_removes(client: TestClient, callers: Callers) -> None:
    created = create(client, callers.operator)
    url = f"/v1/cabins/{created['id']}"
    patch = {"accessibility": {"hearing_loop": True, "entree_largeur_mini": None}, "fees": None}
    response = client.patch(
        url,
        content=__import__("json").dumps(patch),
        headers={
            **callers.operator,
            "If-Match": '"1"',
            "Content-Type": "application/merge-patch+json",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["accessibility"]["hearing_loop"] is True
    assert body["accessibility"]["entree_largeur_mini"] is None
    assert body["accessibility"]["turning_diameter_cm"] == 150  # untouched
    assert body["fees"] is None
    assert body["version"] == 2


def test_patch_that_breaks_validation_is_422_and_writes_nothing(
    client: TestClient, callers: Callers, db: Session
) -> None:
    created = create(client, callers.operator)
    url = f"/v1/cabins/{created['id']}"
    response = client.patch(
        url,
        json={"venue": {"siret": "12345678901234"}, "status": "active"},
        headers={**callers.operator, "If-Match": '"1"'},
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert "status" in fields
    assert client.get(url, headers=callers.operator).json()["version"] == 1


def test_patch_moving_the_point_rederives_the_commune(client: TestClient, callers: Callers) -> None:
    created = create(client, callers.operator)
    response = client.patch(
        f"/v1/cabins/{created['id']}",
        json={"location": {**LYON}},
        headers={**callers.operator, "If-Match": '"1"'},
    )
    assert response.status_code == 200, response.text
    assert response.json()["location"]["commune"]["insee"] == "69123"
    assert response.json()["location"]["commune"]["region"] == "84"


def test_creating_writes_one_row(client: TestClient, callers: Callers, db: Session) -> None:
    before = db.scalar(select(func.count()).select_from(Cabin))
    create(client, callers.operator)
    assert db.scalar(select(func.count()).select_from(Cabin)) == before + 1


def test_cabin_ids_are_time_ordered(client: TestClient, callers: Callers) -> None:
    """UUIDv7: the creation time in milliseconds first, so new cabins sort last in every index."""
    started = datetime.now(UTC)
    ids = [
        uuid.UUID(create(client, callers.operator, reference=f"ORD-{n}")["id"]) for n in range(3)
    ]
    assert {i.version for i in ids} == {7}
    assert ids == sorted(ids) and len(set(ids)) == 3
    made = datetime.fromtimestamp((ids[0].int >> 80) / 1000, UTC)
    assert abs((made - started).total_seconds()) < 60


def test_a_write_answers_with_the_compliance_evaluated_in_its_transaction(
    client: TestClient, callers: Callers
) -> None:
    created = create(client, callers.operator)
    assert created["compliance"]["status"] in {"compliant", "non_compliant", "incomplete"}
    assert "SIT-01" in created["compliance"]["failing_errors"]  # the body has no ARS declaration

    patched = client.patch(
        f"/v1/cabins/{created['id']}",
        json={
            "declarations": {
                "ars_declaration_date": "2026-01-15",
                "ars_declaration_reference": "ARS-2026-0001",
            }
        },
        headers={**callers.operator, "If-Match": '"1"'},
    )
    assert patched.status_code == 200, patched.text
    assert "SIT-01" not in patched.json()["compliance"]["failing_errors"]
    listed = client.get("/v1/cabins", headers=callers.operator).json()["items"]
    assert {item["id"]: item["compliance"] for item in listed}[created["id"]] == (
        patched.json()["compliance"]
    )


def test_a_weak_etag_never_matches_if_match(client: TestClient, callers: Callers) -> None:
    created = create(client, callers.operator)
    url = f"/v1/cabins/{created['id']}"
    for if_match in ('W/"1"', 'W/"1", W/"2"'):
        response = client.patch(
            url,
            json={"venue": {"name": "Faible"}},
            headers={**callers.operator, "If-Match": if_match},
        )
        assert response.status_code == 412, (if_match, response.text)
        assert response.json()["errors"][0]["field"] == "If-Match"
    assert client.get(url, headers=callers.operator).json()["version"] == 1


def test_if_match_lists_and_star_match(client: TestClient, callers: Callers) -> None:
    created = create(client, callers.operator)
    url = f"/v1/cabins/{created['id']}"
    listed = client.patch(
        url, json={"venue": {"name": "Un"}}, headers={**callers.operator, "If-Match": '"7", "1"'}
    )
    assert listed.status_code == 200, listed.text
    star = client.patch(
        url, json={"venue": {"name": "Deux"}}, headers={**callers.operator, "If-Match": "*"}
    )
    assert star.status_code == 200, star.text
    assert star.headers["ETag"] == '"3-gzip"'


@pytest.mark.parametrize(
    "if_match", ["garbage", "1", '"1', '"1" "2"', '*, "1"', 'w/"1"', '"a"b"', ""]
)
def test_an_if_match_that_is_not_an_entity_tag_list_is_400(
    client: TestClient, callers: Callers, if_match: str
) -> None:
    created = create(client, callers.operator)
    url = f"/v1/cabins/{created['id']}"
    response = client.patch(
        url, json={"venue": {"name": "X"}}, headers={**callers.operator, "If-Match": if_match}
    )
    assert response.status_code == 400, (if_match, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "If-Match"
    transition = client.post(
        f"{url}/transitions",
        json={"to": "declared"},
        headers={**callers.operator, "If-Match": if_match},
    )
    assert transition.status_code == 400
    assert client.get(url, headers=callers.operator).json()["version"] == 1


@pytest.mark.parametrize(
    "patch",
    [
        {},
        {"venue": {"name": "Pharmacie de l'Hôtel de Ville"}},
        {"operator_reference": "  PH-0001  ", "location": {"lat": 48.8566}},
        {"venue": {"naf": None}},
    ],
)
def test_a_patch_that_changes_nothing_writes_nothing(
    client: TestClient, callers: Callers, db: Session, patch: dict
) -> None:
    created = create(client, callers.operator, reference="PH-0001")
    url = f"/v1/cabins/{created['id']}"
    events = db.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.target_id == created["id"])
    )
    evaluated_at = created["compliance"]["evaluated_at"]
    response = client.patch(url, json=patch, headers={**callers.operator, "If-Match": '"1"'})
    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == '"1-gzip"'
    body = response.json()
    assert body["version"] == 1
    assert body["updated_at"] == created["updated_at"]
    assert body["compliance"]["evaluated_at"] == evaluated_at
    assert {k: v for k, v in body.items() if k != "compliance"} == {
        k: v for k, v in created.items() if k != "compliance"
    }
    assert (
        db.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.target_id == created["id"])
        )
        == events
    )
    stale = client.patch(url, json=patch, headers={**callers.operator, "If-Match": '"9"'})
    assert stale.status_code == 412


def test_a_patch_that_only_confirms_a_block_is_a_write(
    client: TestClient, callers: Callers
) -> None:
    created = create(client, callers.operator)
    url = f"/v1/cabins/{created['id']}"
    response = client.patch(
        url,
        json={"fees": created["fees"]},
        headers={**callers.operator, "If-Match": '"1"'},
    )
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2
    confirmed = response.json()["last_confirmed_at"]["fees"]
    assert confirmed > created["last_confirmed_at"]["fees"]
    history = client.get(f"{url}/history", headers=callers.operator).json()
    diff = history["items"][-1]["diff"]
    assert list(diff) == ["last_confirmed_at.fees"]
    old, new = (datetime.fromisoformat(v) for v in diff["last_confirmed_at.fees"])
    assert old == datetime.fromisoformat(created["last_confirmed_at"]["fees"])
    assert new == datetime.fromisoformat(confirmed)


def test_history_pages_oldest_first_with_next_links(client: TestClient, callers: Callers) -> None:
    created = create(client, callers.operator)
    url = f"/v1/cabins/{created['id']}"
    for version in range(1, 5):
        response = client.patch(
            url,
            json={"venue": {"name": f"Pharmacie {version}"}},
            headers={**callers.operator, "If-Match": f'"{version}"'},
        )
        assert response.status_code == 200, response.text

    pages: list[list[dict]] = []
    next_url: str | None = f"{url}/history?limit=2"
    while next_url:
        response = client.get(next_url, headers=callers.operator)
        assert response.status_code == 200, response.text
        pages.append(response.json()["items"])
        next_url = response.json()["next"]
    assert [len(page) for page in pages] == [2, 2, 1]
    events = [event for page in pages for event in page]
    assert [e["action"] for e in events] == ["cabin.create"] + ["cabin.update"] * 4
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)  # oldest first
    whole = client.get(f"{url}/history", headers=callers.operator).json()
    assert whole["items"] == events and whole["next"] is None


def test_history_page_size_is_capped(client: TestClient, callers: Callers, app) -> None:  # type: ignore[no-untyped-def]
    created = create(client, callers.operator)
    app.state.settings.page_size_max, saved = 1, app.state.settings.page_size_max
    try:
        response = client.get(
            f"/v1/cabins/{created['id']}/history?limit=50", headers=callers.operator
        )
        client.patch(
            f"/v1/cabins/{created['id']}",
            json={"venue": {"name": "Autre"}},
            headers={**callers.operator, "If-Match": '"1"'},
        )
        two = client.get(f"/v1/cabins/{created['id']}/history?limit=50", headers=callers.operator)
    finally:
        app.state.settings.page_size_max = saved
    assert len(response.json()["items"]) == 1 and response.json()["next"] is None
    assert len(two.json()["items"]) == 1
    assert "limit=1" in two.json()["next"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=many", "limit"),
        ("after=not-a-cursor!", "after"),
        ("after=" + "_" * 22, "after"),  # the shape of a cursor, beyond any event id
    ],
)
def test_a_bad_history_limit_or_cursor_is_400_naming_it(
    client: TestClient, callers: Callers, query: str, field: str
) -> None:
    created = create(client, callers.operator)
    response = client.get(f"/v1/cabins/{created['id']}/history?{query}", headers=callers.operator)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == [field]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("commune=99999", "commune"),
        ("commune=7505", "commune"),
        ("commune=abcde", "commune"),
        ("departement=99", "departement"),
        ("departement=6", "departement"),
        ("region=00", "region"),
        ("region=north", "region"),
    ],
)
def test_list_refuses_a_territory_code_that_does_not_exist_naming_it(
    client: TestClient, callers: Callers, query: str, field: str
) -> None:
    create(client, callers.operator)
    response = client.get(f"/v1/cabins?{query}", headers=callers.operator)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == [field]
    value = query.split("=", 1)[1]
    assert repr(value) in response.json()["errors"][0]["reason"]
    # the same answer as the compliance routes give
    compliance = client.get(f"/v1/compliance/cabins?{query}", headers=callers.regulator)
    assert compliance.status_code == 400
    assert compliance.json()["errors"] == response.json()["errors"]


def test_list_filters_by_existing_territory_codes(client: TestClient, callers: Callers) -> None:
    create(client, callers.operator, reference="P-1")
    create(client, callers.operator, reference="L-1", location={**LYON})
    for query in ("commune=69123", "departement=69", "region=84"):
        response = client.get(f"/v1/cabins?{query}", headers=callers.operator)
        assert response.status_code == 200, response.text
        assert [c["operator_reference"] for c in response.json()["items"]] == ["L-1"]


def test_patch_with_read_only_fields_and_a_french_date_says_what_to_send(
    client: TestClient, callers: Callers
) -> None:
    created = create(client, callers.operator)
    url = f"/v1/cabins/{created['id']}"
    response = client.patch(
        url,
        json={
            "lifecycle": {"status": "active"},
            "version": 7,
            "declarations": {"ars_declaration_date": "15/01/2026"},
        },
        headers={**callers.operator, "If-Match": '"1"'},
    )
    assert response.status_code == 422, response.text
    reasons = {e["field"]: e["reason"] for e in response.json()["errors"]}
    assert "POST /v1/cabins/{id}/transitions" in reasons["lifecycle"]
    assert reasons["version"].startswith("is set by the registry (read-only)")
    assert "is written 2026-01-15" in reasons["declarations.ars_declaration_date"]
    assert client.get(url, headers=callers.operator).json()["version"] == 1


def test_patch_with_the_cabins_own_owner_is_no_change_of_owner(
    client: TestClient, callers: Callers
) -> None:
    """A read sent back whole carries the owner: only a different one is refused."""
    created = create(client, callers.operator)
    url = f"/v1/cabins/{created['id']}"
    headers = {**callers.operator, "If-Match": '"1"'}
    same = {"operator_id": created["operator_id"], "venue": {"name": "Renommée"}}
    response = client.patch(url, json=same, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["venue"]["name"] == "Renommée"

    other = {"operator_id": str(uuid.uuid4())}
    response = client.patch(url, json=other, headers={**callers.operator, "If-Match": '"2"'})
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "operator_id", "reason": "cannot be changed"}]


def test_patch_with_the_owners_id_in_upper_case_is_no_change_of_owner(
    client: TestClient, callers: Callers
) -> None:
    """The owner is compared as a UUID, not as the text that spells it."""
    created = create(client, callers.operator)
    url = f"/v1/cabins/{created['id']}"
    same = {"operator_id": created["operator_id"].upper(), "venue": {"name": "Renommée"}}
    response = client.patch(url, json=same, headers={**callers.operator, "If-Match": '"1"'})
    assert response.status_code == 200, response.text
    assert response.json()["operator_id"] == created["operator_id"]
    assert response.json()["venue"]["name"] == "Renommée"

    for other in ("not-a-uuid", 42, None):
        response = client.patch(
            url, json={"operator_id": other}, headers={**callers.operator, "If-Match": '"2"'}
        )
        assert response.status_code == 422, other
        assert response.json()["errors"] == [
            {"field": "operator_id", "reason": "cannot be changed"}
        ]
