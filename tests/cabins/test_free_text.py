"""Free text of the cabin record holds no control character (C0, DEL, C1) nor lone surrogate:
refused on a single write (POST, PATCH, a transition's reason) and on every row of an import
(CSV by the set-based path, NDJSON, dry run too), naming the field, the character and where
it is. One-line fields refuse tab and line breaks; a transition's reason may run over lines."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.cabins.models import Cabin
from service.patterns import unwanted_character
from tests.auth.fixtures import Callers
from tests.cabins.factories import cabin_body
from tests.cabins.test_import import COLUMNS, CSV, IMPORT, NDJSON, row

# Every free-text field of the record, as the API spells it, with a body that sets it.
FREE_TEXT: dict[str, dict[str, Any]] = {
    "operator_reference": {},
    "location.address.number": {},
    "location.address.street": {},
    "location.address.commune_name": {},
    "venue.name": {},
    "venue.description": {},
    "opening_hours": {},
    "siting.staff_hours": {},
    "siting.responsible_person.name_or_role": {},
    "declarations.ars_declaration_reference": {},
    "care_links.0.name": {"care_links": [{"kind": "pharmacie", "finess": "750012345"}]},
    "provider.name": {"provider": {"kind": "platform_only"}},
    "provider.agrement_number": {"provider": {"kind": "platform_only"}},
    "fees.optional_services.0.name": {
        "fees": {"optional_services": [{"name": "x", "price_eur": 2, "optional": True}]}
    },
    "accessibility.acceslibre_id": {},
}


def body_with(field: str, value: str) -> dict[str, Any]:
    body = cabin_body(**FREE_TEXT[field])
    target: Any = body
    parts = field.split(".")
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target.setdefault(part, {})
    target[parts[-1]] = value
    return body


def refused(client: TestClient, callers: Callers, db: Session, content: str) -> dict[str, str]:
    before = db.scalar(select(func.count()).select_from(Cabin))
    response = client.post(
        "/v1/cabins",
        content=content,
        headers={**callers.operator, "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert db.scalar(select(func.count()).select_from(Cabin)) == before
    return {e["field"]: e["reason"] for e in response.json()["errors"]}


@pytest.mark.parametrize("field", sorted(FREE_TEXT))
def test_a_control_character_in_any_free_text_field_is_refused_naming_it(
    client: TestClient, callers: Callers, db: Session, field: str
) -> None:
    errors = refused(client, callers, db, json.dumps(body_with(field, "Bell\x07 ring")))
    assert errors == {field: "contains the control character U+0007 at position 5"}


@pytest.mark.parametrize(
    ("char", "reason"),
    [
        ("\x01", "contains the control character U+0001 at position 4"),
        ("\x1b", "contains the control character U+001B at position 4"),
        ("\x7f", "contains the control character U+007F (DEL) at position 4"),
        ("\x85", "contains the control character U+0085 (next line) at position 4"),
        ("\x9f", "contains the control character U+009F at position 4"),
        (
            "\t",
            "contains the control character U+0009 (tab) at position 4:"
            " this field is one line of text",
        ),
        (
            "\n",
            "contains the control character U+000A (line feed) at position 4:"
            " this field is one line of text",
        ),
        (
            "\r",
            "contains the control character U+000D (carriage return) at position 4:"
            " this field is one line of text",
        ),
    ],
)
def test_c0_c1_del_and_line_breaks_are_refused_in_a_one_line_field(
    client: TestClient, callers: Callers, db: Session, char: str, reason: str
) -> None:
    errors = refused(client, callers, db, json.dumps(body_with("venue.name", f"Pha{char}rmacie")))
    assert errors == {"venue.name": reason}


def test_a_lone_surrogate_is_refused_naming_its_place(
    client: TestClient, callers: Callers, db: Session
) -> None:
    # json.dumps writes the lone surrogate as the escape \ud800, which JSON parsers read.
    content = json.dumps(body_with("location.address.street", "rue \ud800 Haute"))
    assert "\\ud800" in content
    errors = refused(client, callers, db, content)
    assert errors["location.address.street"].startswith(
        "contains the lone surrogate U+D800 at position 5"
    )


def test_accents_and_other_scripts_are_kept(client: TestClient, callers: Callers) -> None:
    body = body_with("venue.name", "Pharmacie de l'Hôtel-Dieu — Œuvre « Santé » 薬局")
    response = client.post("/v1/cabins", json=body, headers=callers.operator)
    assert response.status_code == 201, response.text
    assert response.json()["venue"]["name"] == body["venue"]["name"]


def test_a_patch_with_a_control_character_is_422_and_changes_nothing(
    client: TestClient, callers: Callers, db: Session
) -> None:
    created = client.post("/v1/cabins", json=cabin_body(), headers=callers.operator).json()
    response = client.patch(
        f"/v1/cabins/{created['id']}",
        json={"location": {"address": {"street": "rue\x0bHaute"}}},
        headers={**callers.operator, "If-Match": '"1"'},
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {
            "field": "location.address.street",
            "reason": "contains the control character U+000B at position 4",
        }
    ]
    cabin = db.get(Cabin, created["id"])
    assert cabin is not None and cabin.version == 1 and cabin.address_street == "rue de Rivoli"


def test_a_transition_reason_may_hold_line_feeds_but_no_other_control(
    client: TestClient, callers: Callers
) -> None:
    created = client.post("/v1/cabins", json=cabin_body(), headers=callers.operator).json()
    url = f"/v1/cabins/{created['id']}/transitions"
    bad = client.post(
        url, json={"to": "declared", "reason": "ligne 1\r\nligne 2"}, headers=callers.operator
    )
    assert bad.status_code == 422, bad.text
    assert bad.json()["errors"] == [
        {
            "field": "reason",
            "reason": "contains the control character U+000D (carriage return) at position 8",
        }
    ]
    good = client.post(
        url, json={"to": "declared", "reason": "ligne 1\nligne 2"}, headers=callers.operator
    )
    assert good.status_code == 200, good.text
    history = client.get(f"/v1/cabins/{created['id']}/history", headers=callers.operator).json()
    assert history["items"][-1]["reason"] == "ligne 1\nligne 2"


def test_a_decommission_reason_with_a_control_character_is_400_and_keeps_the_cabin(
    client: TestClient, callers: Callers, db: Session
) -> None:
    created = client.post("/v1/cabins", json=cabin_body(), headers=callers.operator).json()
    response = client.delete(
        f"/v1/cabins/{created['id']}", params={"reason": "fermé\x07"}, headers=callers.operator
    )
    assert response.status_code == 400, response.text
    assert response.json()["errors"] == [
        {"field": "reason", "reason": "contains the control character U+0007 at position 6"}
    ]
    cabin = db.get(Cabin, created["id"])
    assert cabin is not None and cabin.status == "draft"


def test_the_reason_names_the_first_offending_character() -> None:
    assert unwanted_character("abc", line_breaks=False) is None
    assert unwanted_character("a\nb", line_breaks=True) is None
    assert unwanted_character("a\nb\x00", line_breaks=True) == (
        "contains the control character U+0000 (NUL) at position 4"
    )
    assert unwanted_character("\u2028 \u00a0 é", line_breaks=False) is None


# --- the import -----------------------------------------------------------------------------


def to_csv(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_csv_cell_with_a_control_character_is_reported_and_not_written(
    client: TestClient, db: Session, callers: Callers, dry_run: bool
) -> None:
    rows = [
        row("T-1", 2.3522, 48.8566, "75056"),
        row("T-2", 2.3522, 48.8566, "75056", **{"venue.name": "Pharma\x1fcie"}),
        row("T-3", 4.8357, 45.7640, "69123", **{"location.address.street": "rue\tHaute"}),
        row("T-4", 4.8357, 45.7640, "69123", opening_hours="Mo-Fr 09:00\x85-19:00"),
    ]
    response = client.post(
        IMPORT + f"?mode=partial&dry_run={str(dry_run).lower()}",
        content=to_csv(rows),
        headers={**CSV, **callers.operator},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["errors"] == [
        {
            "row": 2,
            "field": "venue.name",
            "reason": "contains the control character U+001F at position 7",
        },
        {
            "row": 3,
            "field": "location.address.street",
            "reason": "contains the control character U+0009 (tab) at position 4:"
            " this field is one line of text",
        },
        {
            "row": 4,
            "field": "opening_hours",
            "reason": "contains the control character U+0085 (next line) at position 12",
        },
    ]
    assert body["created"] == 1 and body["rows_invalid"] == 3
    written = db.scalars(
        select(Cabin.operator_reference).where(Cabin.operator_id == callers.operator_id)
    )
    assert list(written) == ([] if dry_run else ["T-1"])


def test_a_csv_line_break_inside_a_quoted_cell_is_refused(
    client: TestClient, callers: Callers
) -> None:
    content = to_csv(
        [row("T-1", 2.3522, 48.8566, "75056", **{"venue.name": "Pharmacie\nCentrale"})]
    )
    assert b'"Pharmacie\nCentrale"' in content
    response = client.post(IMPORT, content=content, headers={**CSV, **callers.operator})
    assert response.status_code == 422, response.text
    assert [(e["row"], e["field"]) for e in response.json()["errors"]] == [(1, "venue.name")]


def test_ndjson_rows_with_control_characters_or_lone_surrogates_are_reported(
    client: TestClient, db: Session, callers: Callers
) -> None:
    lines = [
        json.dumps(cabin_body("N-1")),
        json.dumps(body_with("declarations.ars_declaration_reference", "ARS\x0c2026")),
        json.dumps(body_with("care_links.0.name", "Cabinet \udc00")),
        # a raw C1 character (valid JSON) and U+2028 (a character, kept): one line each
        json.dumps(cabin_body("N-4", venue__name="Pharmacie\u2028Nord\x80"), ensure_ascii=False),
    ]
    lines[1] = lines[1].replace('"PH-001"', '"N-2"')
    lines[2] = lines[2].replace('"PH-001"', '"N-3"')
    response = client.post(
        IMPORT + "?mode=partial&dry_run=true",
        content="\n".join(lines).encode(),
        headers={**NDJSON, **callers.operator},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    errors = {(e["row"], e["field"]): e["reason"] for e in body["errors"]}
    assert errors.keys() == {
        (2, "declarations.ars_declaration_reference"),
        (3, "care_links.0.name"),
        (4, "venue.name"),
    }
    assert errors[(2, "declarations.ars_declaration_reference")] == (
        "contains the control character U+000C at position 4"
    )
    assert errors[(3, "care_links.0.name")].startswith(
        "contains the lone surrogate U+DC00 at position 9"
    )
    assert errors[(4, "venue.name")] == "contains the control character U+0080 at position 15"
    assert body["rows_total"] == 4 and body["created"] == 1
