"""SIT-20 on re-import: an operator who uploads its register again confirms the blocks its
rows carry, as a PATCH re-sending them does (a new version, `last_confirmed_at.<block>` in the
audit diff), on the set-based path and the row-by-row one alike; an Idempotency-Key retry is
still a replay that writes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from service.audit.models import AuditEvent
from service.audit.trail import Actor, verify
from service.cabins import importer
from service.cabins.imports import setbased
from service.cabins.models import Cabin
from service.cabins.vocabulary import CONFIRMED_BLOCKS
from tests.auth.factories import make_operator
from tests.auth.fixtures import Callers
from tests.cabins.test_import import CSV, IMPORT, cabins_of, row, to_csv

LONG_AGO = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def backdate(db: Session, operator_id: uuid.UUID) -> None:
    """Every confirmation of the operator's cabins as if made long ago (the test runs in one
    transaction, whose now() the re-import would otherwise write again)."""
    confirmed = ", ".join(
        f"{b}_confirmed_at = CASE WHEN {b}_confirmed_at IS NOT NULL THEN :long_ago END"
        for b in CONFIRMED_BLOCKS
    )
    db.execute(
        text(f"UPDATE cabin SET {confirmed} WHERE operator_id = :operator_id"),
        {"long_ago": LONG_AGO, "operator_id": operator_id},
    )
    db.expire_all()


def confirmations(cabin: Cabin) -> dict[str, datetime | None]:
    return {b: getattr(cabin, f"{b}_confirmed_at") for b in CONFIRMED_BLOCKS}


def last_event(db: Session, cabin: Cabin) -> AuditEvent:
    event = db.scalars(
        select(AuditEvent)
        .where(AuditEvent.target_id == str(cabin.id))
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).one()
    return event


def test_reimporting_an_unchanged_row_confirms_the_blocks_it_carries(
    client: TestClient, db: Session, callers: Callers
) -> None:
    rows = [row("R-1", 2.3522, 48.8566, "75056")]  # siting and accessibility cells, no fees
    content = to_csv(rows)
    assert client.post(IMPORT, content=content, headers={**CSV, **callers.operator}).is_success
    backdate(db, callers.operator_id)
    [before] = cabins_of(db, callers.operator_id)
    assert confirmations(before)["siting"] == LONG_AGO
    version = before.version

    response = client.post(IMPORT, content=content, headers={**CSV, **callers.operator})

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["created"], body["updated"], body["unchanged"]) == (0, 1, 0)
    db.expire_all()
    [after] = cabins_of(db, callers.operator_id)
    now = db.scalar(select(func.now()))
    assert after.version == version + 1
    assert after.updated_at == now
    assert confirmations(after) == {
        "siting": now,
        "declarations": None,
        "care_links": None,
        "provider": None,
        "fees": None,
        "accessibility": now,
    }
    event = last_event(db, after)
    assert event.action == "cabin.update"
    assert event.diff == {
        "last_confirmed_at.accessibility": [LONG_AGO.isoformat(), now.isoformat()],
        "last_confirmed_at.siting": [LONG_AGO.isoformat(), now.isoformat()],
    }
    assert verify(db).ok


def test_the_reimport_writes_what_a_patch_resending_the_blocks_writes(
    client: TestClient, db: Session, callers: Callers
) -> None:
    """The same record re-sent by PATCH and by an import: the same version, confirmations and
    audit diff keys."""
    rows = [row("P-1", 2.3522, 48.8566, "75056"), row("P-2", 4.8357, 45.7640, "69123")]
    client.post(IMPORT, content=to_csv(rows), headers={**CSV, **callers.operator})
    backdate(db, callers.operator_id)
    cabins = {c.operator_reference: c for c in cabins_of(db, callers.operator_id)}
    read = client.get(f"/v1/cabins/{cabins['P-1'].id}", headers=callers.operator).json()
    patched = client.patch(
        f"/v1/cabins/{cabins['P-1'].id}",
        json={"siting": read["siting"], "accessibility": read["accessibility"]},
        headers={**callers.operator, "If-Match": f'"{cabins["P-1"].version}"'},
    )
    assert patched.status_code == 200, patched.text

    imported = client.post(IMPORT, content=to_csv(rows[1:]), headers={**CSV, **callers.operator})

    assert imported.status_code == 200, imported.text
    db.expire_all()
    after = {c.operator_reference: c for c in cabins_of(db, callers.operator_id)}
    assert after["P-1"].version == after["P-2"].version == 2
    by_patch, by_import = confirmations(after["P-1"]), confirmations(after["P-2"])
    assert {b for b, at in by_patch.items() if at and at > LONG_AGO} == {"siting", "accessibility"}
    assert {b for b, at in by_import.items() if at and at > LONG_AGO} == {"siting", "accessibility"}
    assert set(last_event(db, after["P-1"]).diff) == set(last_event(db, after["P-2"]).diff)


def test_a_changed_row_lists_its_confirmations_in_the_audit_diff_as_patch_does(
    client: TestClient, db: Session, callers: Callers
) -> None:
    rows = [row("C-1", 2.3522, 48.8566, "75056")]
    client.post(IMPORT, content=to_csv(rows), headers={**CSV, **callers.operator})
    backdate(db, callers.operator_id)
    rows[0]["venue.name"] = "Pharmacie renommée"

    response = client.post(IMPORT, content=to_csv(rows), headers={**CSV, **callers.operator})

    assert response.status_code == 200, response.text
    assert response.json()["updated"] == 1
    db.expire_all()
    [cabin] = cabins_of(db, callers.operator_id)
    now = db.scalar(select(func.now()))
    assert last_event(db, cabin).diff == {
        "last_confirmed_at.accessibility": [LONG_AGO.isoformat(), now.isoformat()],
        "last_confirmed_at.siting": [LONG_AGO.isoformat(), now.isoformat()],
        "venue.name": ["Pharmacie C-1", "Pharmacie renommée"],
    }


def test_an_unchanged_row_with_no_block_stays_unchanged(
    client: TestClient, db: Session, callers: Callers
) -> None:
    """No block to confirm and nothing changed: no new version, no event (as an empty PATCH)."""
    bare = {"siting.assistance_modes": "", "accessibility.entree_largeur_mini": ""}
    content = to_csv([row("B-1", 2.3522, 48.8566, "75056", **bare)])
    client.post(IMPORT, content=content, headers={**CSV, **callers.operator})
    events = db.scalar(select(func.count()).select_from(AuditEvent))

    response = client.post(IMPORT, content=content, headers={**CSV, **callers.operator})

    assert response.status_code == 200, response.text
    assert (response.json()["updated"], response.json()["unchanged"]) == (0, 1)
    [cabin] = cabins_of(db, callers.operator_id)
    assert cabin.version == 1
    assert db.scalar(select(func.count()).select_from(AuditEvent)) == events


def test_a_retried_reimport_with_its_idempotency_key_confirms_nothing_again(
    client: TestClient, db: Session, callers: Callers
) -> None:
    content = to_csv([row("I-1", 2.3522, 48.8566, "75056")])
    client.post(IMPORT, content=content, headers={**CSV, **callers.operator})
    headers = {**CSV, **callers.operator, "Idempotency-Key": "register-2026-11"}
    first = client.post(IMPORT, content=content, headers=headers)
    [cabin] = cabins_of(db, callers.operator_id)
    version = cabin.version
    events = db.scalar(select(func.count()).select_from(AuditEvent))

    again = client.post(IMPORT, content=content, headers=headers)

    assert again.status_code == first.status_code == 200
    assert again.json() == first.json()
    db.expire_all()
    [cabin] = cabins_of(db, callers.operator_id)
    assert cabin.version == version == 2
    assert db.scalar(select(func.count()).select_from(AuditEvent)) == events


def _import(db: Session, operator_id: uuid.UUID, body: bytes, set_based: bool) -> Any:
    original = setbased.plan
    if not set_based:
        setbased.plan = lambda _text: None  # type: ignore[assignment]
    try:
        return importer.run_import(
            db, operator_id=operator_id, actor=Actor(name="test"), body=body, kind="csv"
        )
    finally:
        setbased.plan = original  # type: ignore[assignment]


def _state(db: Session, operator_id: uuid.UUID) -> dict[str, Any]:
    db.expire_all()
    state = {}
    for cabin in cabins_of(db, operator_id):
        event = last_event(db, cabin)
        state[cabin.operator_reference] = (
            cabin.version,
            {b for b, at in confirmations(cabin).items() if at is not None and at > LONG_AGO},
            event.action,
            sorted(event.diff),
        )
    return state


def test_both_import_paths_confirm_the_same_blocks_on_create_and_on_reimport(
    db: Session,
) -> None:
    rows = [
        row("S-1", 2.3522, 48.8566, "75056"),
        row("S-2", 4.8357, 45.7640, "69123", **{"accessibility.entree_largeur_mini": ""}),
        row("S-3", 1.4442, 43.6047, "31555", **{"siting.assistance_modes": ""}),
    ]
    body = to_csv(rows)
    results = []
    for set_based in (True, False):
        operator_id = make_operator(db, f"Opérateur {set_based}")
        created = _import(db, operator_id, body, set_based)
        on_create = _state(db, operator_id)
        backdate(db, operator_id)
        again = _import(db, operator_id, body, set_based)
        results.append(
            (
                (created.created, created.updated, created.unchanged),
                on_create,
                (again.created, again.updated, again.unchanged),
                _state(db, operator_id),
            )
        )
    assert results[0] == results[1]
    on_create, counts, on_reimport = results[0][1], results[0][2], results[0][3]
    assert on_create["S-2"][1] == {"siting"} and on_create["S-3"][1] == {"accessibility"}
    assert counts == (0, 3, 0)
    assert on_reimport["S-1"] == (
        2,
        {"siting", "accessibility"},
        "cabin.update",
        ["last_confirmed_at.accessibility", "last_confirmed_at.siting"],
    )
