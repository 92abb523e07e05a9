"""The bulk import: CSV (`,` or `;`, with or without BOM) and NDJSON; atomic and partial modes;
dry run; the per-row report; Idempotency-Key; upsert by operator_reference; possible
duplicates as warnings; the problems of the request as a whole (415, 413, 400, 401, 403)."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service import timespans
from service.audit.models import AuditEvent
from service.audit.trail import verify
from service.cabins.imports.columns import BOOLEAN_CELL_REASON
from service.cabins.imports.models import ImportJob
from service.cabins.models import Cabin
from tests.asgi import cut_off
from tests.auth.factories import valid_siret
from tests.auth.fixtures import Callers
from tests.cabins.factories import cabin_body

IMPORT = "/v1/cabins/import"
CSV = {"Content-Type": "text/csv"}
NDJSON = {"Content-Type": "application/x-ndjson"}

COLUMNS = [
    "operator_reference",
    "location.lon",
    "location.lat",
    "location.declared_insee",
    "location.address.street",
    "venue.kind",
    "venue.name",
    "venue.siret",
    "opening_hours",
    "siting.assistance_modes",
    "accessibility.entree_largeur_mini",
    "accessibility.hearing_loop",
]


def row(ref: str, lon: float, lat: float, insee: str, **extra: Any) -> dict[str, Any]:
    return {
        "operator_reference": ref,
        "location.lon": lon,
        "location.lat": lat,
        "location.declared_insee": insee,
        "location.address.street": "rue de la Gare",
        "venue.kind": "pharmacie_officine",
        "venue.name": f"Pharmacie {ref}",
        "venue.siret": valid_siret(),
        "opening_hours": "Mo-Fr 09:00-19:00",
        "siting.assistance_modes": "pharmacist|nurse",
        "accessibility.entree_largeur_mini": 90,
        "accessibility.hearing_loop": "",
        **extra,
    }


def to_csv(rows: list[dict[str, Any]], delimiter: str = ",") -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, delimiter=delimiter, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def mixed_rows() -> list[dict[str, Any]]:
    """Rows 1, 3 and 6 are good; 2 has lat/lon swapped, 4 an invalid SIRET, 5 a point at sea
    (Bay of Biscay), 7 a point in Lyon declared in Paris."""
    return [
        row("C-1", 2.3522, 48.8566, "75056"),
        row("C-2", 48.8566, 2.3522, "75056"),
        row("C-3", 4.8357, 45.7640, "69123"),
        row("C-4", 5.3698, 43.2965, "13055", **{"venue.siret": "12345678901234"}),
        row("C-5", -3.5, 46.0, "85194"),
        row("C-6", 1.4442, 43.6047, "31555"),
        row("C-7", 4.8357, 45.7640, "75056"),
    ]


def cabins_of(db: Session, operator_id: uuid.UUID) -> list[Cabin]:
    return list(db.scalars(select(Cabin).where(Cabin.operator_id == operator_id)))


def error_rows(body: dict[str, Any]) -> dict[int, set[str]]:
    rows: dict[int, set[str]] = {}
    for error in body["errors"]:
        rows.setdefault(error["row"], set()).add(error["field"])
    return rows


def test_atomic_import_with_bad_rows_writes_nothing_and_lists_exactly_those_rows(
    client: TestClient, db: Session, callers: Callers
) -> None:
    response = client.post(
        IMPORT, content=to_csv(mixed_rows()), headers={**CSV, **callers.operator}
    )

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert error_rows(body) == {
        2: {"location"},
        4: {"venue.siret"},
        5: {"location"},
        7: {"location.declared_insee"},
    }
    reasons = {e["row"]: e["reason"] for e in body["errors"]}
    assert "swapped" in reasons[2] and "Paris" in reasons[2]
    assert "not in France" in reasons[5]
    assert "Lyon (69123)" in reasons[7]
    assert cabins_of(db, callers.operator_id) == []
    job = client.get(f"/v1/imports/{body['import_id']}", headers=callers.operator).json()
    assert job["state"] == "rejected"
    assert job["rows_total"] == 7 and job["rows_invalid"] == 4 and job["created"] == 0


def test_partial_import_writes_the_good_rows_and_reports_the_bad(
    client: TestClient, db: Session, callers: Callers
) -> None:
    response = client.post(
        IMPORT + "?mode=partial", content=to_csv(mixed_rows()), headers={**CSV, **callers.operator}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["state"] == "succeeded"
    assert (body["created"], body["updated"], body["rows_invalid"]) == (3, 0, 4)
    assert set(error_rows(body)) == {2, 4, 5, 7}
    written = {c.operator_reference: c for c in cabins_of(db, callers.operator_id)}
    assert set(written) == {"C-1", "C-3", "C-6"}
    assert written["C-3"].commune_insee == "69123" and written["C-3"].region_code == "84"
    assert written["C-1"].status == "draft" and written["C-1"].reference.startswith("CAB-")
    assert written["C-1"].siting["assistance_modes"] == ["pharmacist", "nurse"]
    assert written["C-1"].accessibility == {"entree_largeur_mini": 90.0}
    events = db.scalars(
        select(AuditEvent).where(AuditEvent.target_id.in_([str(c.id) for c in written.values()]))
    ).all()
    assert sorted(e.action for e in events) == ["cabin.create"] * 3
    assert verify(db).ok
    assert {c.id.version for c in written.values()} == {7}  # time-ordered, as through the API


def test_same_upload_with_the_same_idempotency_key_changes_nothing(
    client: TestClient, db: Session, callers: Callers
) -> None:
    headers = {**CSV, **callers.operator, "Idempotency-Key": "upload-42"}
    content = to_csv(mixed_rows())
    first = client.post(IMPORT + "?mode=partial", content=content, headers=headers)
    cabins_after_first = {(c.id, c.version) for c in cabins_of(db, callers.operator_id)}
    events_after_first = db.scalar(select(func.count()).select_from(AuditEvent))

    again = client.post(IMPORT + "?mode=partial", content=content, headers=headers)

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert {(c.id, c.version) for c in cabins_of(db, callers.operator_id)} == cabins_after_first
    assert db.scalar(select(func.count()).select_from(AuditEvent)) == events_after_first
    assert db.scalar(select(func.count()).select_from(ImportJob)) >= 1


def test_a_rejected_upload_is_replayed_the_same_with_its_key(
    client: TestClient, callers: Callers
) -> None:
    headers = {**CSV, **callers.operator, "Idempotency-Key": "upload-43"}
    first = client.post(IMPORT, content=to_csv(mixed_rows()), headers=headers)
    again = client.post(IMPORT, content=first.request.content, headers=headers)
    assert first.status_code == again.status_code == 422
    assert again.json() == first.json()


def test_the_same_idempotency_key_with_another_body_is_422(
    client: TestClient, db: Session, callers: Callers
) -> None:
    headers = {**CSV, **callers.operator, "Idempotency-Key": "upload-44"}
    rows = [row("K-1", 2.3522, 48.8566, "75056")]
    assert client.post(IMPORT, content=to_csv(rows), headers=headers).status_code == 200

    rows.append(row("K-2", 4.8357, 45.7640, "69123"))
    response = client.post(IMPORT, content=to_csv(rows), headers=headers)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    assert [c.operator_reference for c in cabins_of(db, callers.operator_id)] == ["K-1"]


def test_the_key_of_a_dry_run_sent_with_the_real_import_is_422_not_the_dry_runs_answer(
    client: TestClient, db: Session, callers: Callers
) -> None:
    """Validate, then import with the same key: replaying the dry run would answer 200 with
    `created` and write nothing."""
    headers = {**CSV, **callers.operator, "Idempotency-Key": "upload-45"}
    content = to_csv([row("K-1", 2.3522, 48.8566, "75056")])
    dry = client.post(IMPORT + "?dry_run=true", content=content, headers=headers)
    assert dry.status_code == 200, dry.text

    real = client.post(IMPORT, content=content, headers=headers)
    assert real.status_code == 422, real.text
    assert real.json()["errors"] == [
        {
            "field": "Idempotency-Key",
            "reason": f"already used by import {dry.json()['id']} with dry_run=true; use a new key",
        }
    ]
    partial = client.post(IMPORT + "?dry_run=true&mode=partial", content=content, headers=headers)
    assert partial.status_code == 422
    assert "mode=atomic" in partial.json()["errors"][0]["reason"]
    assert cabins_of(db, callers.operator_id) == []


def test_ndjson_import_creates_the_cabins(
    client: TestClient, db: Session, callers: Callers
) -> None:
    lines = [
        cabin_body("N-1"),
        cabin_body(
            "N-2", location__lon=4.8357, location__lat=45.7640, location__declared_insee="69123"
        ),
    ]
    content = "\n".join(json.dumps(b) for b in lines) + "\n\n"

    response = client.post(IMPORT, content=content, headers={**NDJSON, **callers.operator})

    assert response.status_code == 200, response.text
    assert response.json()["created"] == 2
    written = {c.operator_reference: c for c in cabins_of(db, callers.operator_id)}
    assert written["N-2"].commune_insee == "69123"
    assert written["N-1"].care_links == [{"kind": "pharmacie", "finess": "750012345"}]


def test_ndjson_reports_bad_lines_by_row(client: TestClient, callers: Callers) -> None:
    content = "\n".join(
        [json.dumps(cabin_body("N-1")), "{not json", json.dumps(cabin_body("N-3", venue__kind="x"))]
    )
    response = client.post(IMPORT, content=content, headers={**NDJSON, **callers.operator})
    assert response.status_code == 422
    assert error_rows(response.json()) == {2: {"body"}, 3: {"venue.kind"}}


def test_csv_with_bom_semicolons_and_decimal_commas(
    client: TestClient, db: Session, callers: Callers
) -> None:
    rows = [
        row("B-1", "2,3522", "48,8566", "75056", **{"accessibility.entree_largeur_mini": "90,5"})
    ]
    content = "\ufeff".encode() + to_csv(rows, delimiter=";")

    response = client.post(IMPORT, content=content, headers={**CSV, **callers.operator})

    assert response.status_code == 200, response.text
    [cabin] = cabins_of(db, callers.operator_id)
    assert cabin.accessibility["entree_largeur_mini"] == 90.5
    assert cabin.commune_insee == "75056"


def test_dry_run_validates_and_writes_nothing(
    client: TestClient, db: Session, callers: Callers
) -> None:
    response = client.post(
        IMPORT + "?dry_run=true&mode=partial",
        content=to_csv(mixed_rows()),
        headers={**CSV, **callers.operator},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["dry_run"] is True and body["created"] == 3 and body["rows_invalid"] == 4
    assert cabins_of(db, callers.operator_id) == []

    atomic = client.post(
        IMPORT + "?dry_run=true", content=to_csv(mixed_rows()), headers={**CSV, **callers.operator}
    )
    assert atomic.status_code == 422
    assert cabins_of(db, callers.operator_id) == []


def test_reimport_upserts_by_operator_reference(
    client: TestClient, db: Session, callers: Callers
) -> None:
    rows = [row("U-1", 2.3522, 48.8566, "75056"), row("U-2", 4.8357, 45.7640, "69123")]
    client.post(IMPORT, content=to_csv(rows), headers={**CSV, **callers.operator})
    before = {c.operator_reference: (c.id, c.version) for c in cabins_of(db, callers.operator_id)}

    rows[0]["venue.name"] = "Pharmacie renommée"
    rows.append(row("U-3", 1.4442, 43.6047, "31555"))
    response = client.post(IMPORT, content=to_csv(rows), headers={**CSV, **callers.operator})

    body = response.json()
    # U-2, as it was, confirms its siting and accessibility (SIT-20): updated too.
    assert (body["created"], body["updated"], body["unchanged"]) == (1, 2, 0)
    db.expire_all()
    after = {c.operator_reference: c for c in cabins_of(db, callers.operator_id)}
    assert after["U-1"].id == before["U-1"][0] and after["U-1"].version == 2
    assert after["U-1"].venue_name == "Pharmacie renommée"
    assert after["U-2"].version == 2
    update = db.scalar(
        select(AuditEvent).where(
            AuditEvent.target_id == str(after["U-1"].id), AuditEvent.action == "cabin.update"
        )
    )
    assert update is not None
    assert update.diff.pop("venue.name") == ["Pharmacie U-1", "Pharmacie renommée"]
    assert set(update.diff) == {"last_confirmed_at.siting", "last_confirmed_at.accessibility"}
    assert verify(db).ok


def test_another_cabin_within_25_m_at_the_same_venue_is_a_warning(
    client: TestClient, db: Session, callers: Callers
) -> None:
    siret = valid_siret()
    first = [row("D-1", 2.3522, 48.8566, "75056", **{"venue.siret": siret})]
    client.post(IMPORT, content=to_csv(first), headers={**CSV, **callers.operator})
    near = [
        row("D-2", 2.35225, 48.85665, "75056", **{"venue.siret": siret}),
        row("D-3", 2.3600, 48.8566, "75056", **{"venue.siret": siret}),  # ~570 m away
    ]
    response = client.post(IMPORT, content=to_csv(near), headers={**CSV, **callers.operator})

    assert response.status_code == 200
    body = response.json()
    assert body["created"] == 2
    assert [(w["row"], w["field"]) for w in body["warnings"]] == [(1, "location")]
    assert "possible duplicate" in body["warnings"][0]["reason"]
    assert "D-1" in body["warnings"][0]["reason"]


def test_repeated_reference_in_one_file_is_an_error(client: TestClient, callers: Callers) -> None:
    rows = [row("R-1", 2.3522, 48.8566, "75056"), row("R-1", 4.8357, 45.7640, "69123")]
    response = client.post(IMPORT, content=to_csv(rows), headers={**CSV, **callers.operator})
    assert response.status_code == 422
    assert error_rows(response.json()) == {2: {"operator_reference"}}


def test_a_cell_of_the_wrong_format_is_refused_in_words(
    client: TestClient, callers: Callers
) -> None:
    """The INSEE code of Bourg-en-Bresse as a spreadsheet leaves it (01053 read as a number)."""
    rows = [row("F-1", 5.2251, 46.2052, "1053")]
    response = client.post(IMPORT, content=to_csv(rows), headers={**CSV, **callers.operator})
    assert response.status_code == 422
    reasons = {e["field"]: e["reason"] for e in response.json()["errors"]}
    assert reasons["location.declared_insee"].startswith("must be an INSEE commune code")
    assert "01053" in reasons["location.declared_insee"]


def test_unknown_and_missing_columns_are_422(client: TestClient, callers: Callers) -> None:
    content = b"operator_reference,location.lon,colour\nX,2.35,red\n"
    response = client.post(IMPORT, content=content, headers={**CSV, **callers.operator})
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"colour", "location.lat", "location.declared_insee", "venue.kind"} <= fields


def test_other_content_types_are_415(client: TestClient, callers: Callers) -> None:
    response = client.post(IMPORT, json=[cabin_body()], headers=callers.operator)
    assert response.status_code == 415
    assert response.json()["errors"][0]["field"] == "Content-Type"


def test_a_body_not_in_utf8_is_400(client: TestClient, callers: Callers) -> None:
    content = to_csv([row("L-1", 2.3522, 48.8566, "75056", **{"venue.name": "Pharmacie"})])
    response = client.post(
        IMPORT,
        content=content.replace(b"Pharmacie", "Épicerie".encode("latin-1")),
        headers={**CSV, **callers.operator},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "body"


def test_a_csv_saved_by_excel_in_windows_1252_says_where_and_how_to_save_it(
    client: TestClient, callers: Callers
) -> None:
    text = to_csv([row("W-1", 2.3522, 48.8566, "75056", **{"venue.name": "Épicerie"})]).decode()
    content = text.replace("\n", "\r\n").encode("cp1252")
    response = client.post(IMPORT, content=content, headers={**CSV, **callers.operator})
    assert response.status_code == 400
    body = response.json()
    assert "CSV UTF-8" in body["detail"]
    offset = content.index("É".encode("cp1252"))
    assert body["errors"] == [
        {
            "field": "body",
            "reason": f"not UTF-8 at byte {offset} (line 2): byte 0xC9, 'É' in Windows-1252",
        }
    ]


def test_a_body_above_the_limit_is_413(settings: Any, callers: Callers) -> None:
    from service.app import create_app

    small = create_app(settings.model_copy(update={"max_body_bytes": 1000}))
    with TestClient(small) as limited:
        response = limited.post(IMPORT, content=b"x" * 5000, headers={**CSV, **callers.operator})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


def test_a_streamed_import_over_the_limit_is_413_naming_the_limit_and_writes_nothing(
    settings: Any, app: FastAPI, client: TestClient, callers: Callers, db: Session
) -> None:
    from service.app import create_app

    content = to_csv([row(f"BIG-{i}", 2.3522, 48.8566, "75056") for i in range(40)])
    assert len(content) > 1000

    def chunks():  # type: ignore[no-untyped-def]  # no Content-Length: counted as it comes
        for start in range(0, len(content), 256):
            yield content[start : start + 256]

    small = create_app(settings.model_copy(update={"max_body_bytes": 1000}))
    small.dependency_overrides = app.dependency_overrides  # the test's session (`client`)
    with TestClient(small) as limited:
        response = limited.post(IMPORT, content=chunks(), headers={**CSV, **callers.operator})
    assert response.status_code == 413
    assert response.headers["connection"] == "close"
    assert response.json()["errors"] == [{"field": "body", "reason": "over 1000 bytes"}]
    assert (
        db.scalar(
            select(func.count()).select_from(Cabin).where(Cabin.operator_reference.like("BIG-%"))
        )
        == 0
    )


def test_an_upload_whose_connection_closes_mid_body_is_a_400_and_writes_nothing(
    app: FastAPI, client: TestClient, db: Session, callers: Callers
) -> None:
    """The client's connection closes halfway through the body (a laptop going offline): the
    refusal names the body and says nothing was imported; not the service's 500 and trace."""
    content = to_csv(
        [row("CUT-1", 2.3522, 48.8566, "75056"), row("CUT-2", 2.3522, 48.8566, "75056")]
    )
    status, body = cut_off(app, IMPORT, content, callers.operator, content_type="text/csv")
    assert status == 400
    assert body["errors"] == [
        {
            "field": "body",
            "reason": f"the connection closed after {len(content) // 2} bytes, before the end",
        }
    ]
    assert (
        db.scalar(
            select(func.count()).select_from(Cabin).where(Cabin.operator_reference.like("CUT-%"))
        )
        == 0
    )


@pytest.mark.parametrize(("who", "status"), [(None, 401), ("regulator", 403)])
def test_only_operators_and_admins_import(
    client: TestClient, callers: Callers, who: str | None, status: int
) -> None:
    headers = {**CSV, **(getattr(callers, who) if who else {})}
    response = client.post(IMPORT, content=to_csv(mixed_rows()[:1]), headers=headers)
    assert response.status_code == status


def test_an_admin_imports_for_a_named_operator(
    client: TestClient, db: Session, callers: Callers
) -> None:
    content = to_csv([row("A-1", 2.3522, 48.8566, "75056")])
    missing = client.post(IMPORT, content=content, headers={**CSV, **callers.admin})
    assert missing.status_code == 422
    response = client.post(
        IMPORT + f"?operator_id={callers.other_operator_id}",
        content=content,
        headers={**CSV, **callers.admin},
    )
    assert response.status_code == 200, response.text
    assert [c.operator_reference for c in cabins_of(db, callers.other_operator_id)] == ["A-1"]


def test_another_operators_import_is_404(client: TestClient, callers: Callers) -> None:
    content = to_csv([row("O-1", 2.3522, 48.8566, "75056")])
    job = client.post(IMPORT, content=content, headers={**CSV, **callers.operator}).json()
    assert client.get(f"/v1/imports/{job['id']}", headers=callers.operator).status_code == 200
    assert client.get(f"/v1/imports/{job['id']}", headers=callers.other_operator).status_code == 404


def test_staged_columns_match_the_single_write_path() -> None:

    from service.cabins.importer import staged_columns
    from service.cabins.records import columns_of
    from service.cabins.schemas import CabinCreate

    cabin = CabinCreate.model_validate(
        cabin_body(
            "S-1",
            declarations__concertation={"date": "2026-01-10", "parties": ["ars", "cpts"]},
            provider={"name": "Télé-santé", "kind": "platform_only"},
            venue__description="kiosque",
        )
    )
    expected = {
        k: v.isoformat() if isinstance(v, date) else v
        for k, v in columns_of(cabin).items()
        if k not in ("operator_reference", "geom")
    }
    doc = cabin.model_dump(mode="json", exclude_none=True, exclude={"operator_id"})
    assert staged_columns(doc) == expected


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_other_methods_on_the_import_path_are_405(
    client: TestClient, callers: Callers, method: str
) -> None:
    response = client.request(method, IMPORT, headers=callers.operator)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"


def rows_with_several_errors() -> list[dict[str, Any]]:
    """Row 1 is good; each other row has a record-level error and a location error."""
    return [
        row("E-1", 2.3522, 48.8566, "75056"),
        row("E-2", -3.5, 46.0, "85194", **{"venue.siret": "12345678901234"}),  # at sea
        row("E-3", 48.8566, 2.3522, "75056", opening_hours="Mo-Fr 25:00-26:00"),  # swapped
        row("E-4", 4.8357, 45.7640, "75056", **{"venue.siret": "12345678901234"}),  # in Lyon
    ]


EVERY_ERROR = {
    2: {"venue.siret", "location"},
    3: {"opening_hours", "location"},
    4: {"venue.siret", "location.declared_insee"},
}


def test_csv_report_lists_every_error_of_a_bad_row_at_once(
    client: TestClient, db: Session, callers: Callers
) -> None:
    content = to_csv(rows_with_several_errors())
    response = client.post(
        IMPORT + "?mode=partial", content=content, headers={**CSV, **callers.operator}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert error_rows(body) == EVERY_ERROR
    reasons = {(e["row"], e["field"]): e["reason"] for e in body["errors"]}
    assert "not in France" in reasons[(2, "location")]
    assert "swapped" in reasons[(3, "location")]
    assert "Lyon (69123)" in reasons[(4, "location.declared_insee")]
    assert [e["row"] for e in body["errors"]] == sorted(e["row"] for e in body["errors"])
    assert body["rows_invalid"] == 3 and body["created"] == 1
    assert [c.operator_reference for c in cabins_of(db, callers.operator_id)] == ["E-1"]


def test_ndjson_report_lists_every_error_of_a_bad_row_at_once(
    client: TestClient, callers: Callers
) -> None:
    lines = [
        cabin_body("E-1"),
        cabin_body("E-2", venue__siret="12345678901234", location__lon=-3.5, location__lat=46.0),
        cabin_body(
            "E-3", opening_hours="Mo-Fr 25:00-26:00", location__lon=48.8566, location__lat=2.3522
        ),
        # a type-level error too (a boolean for a measurement), and a point in Lyon
        cabin_body(
            "E-4",
            venue__siret="12345678901234",
            accessibility__entree_largeur_mini=True,
            location__lon=4.8357,
            location__lat=45.7640,
        ),
    ]
    content = "\n".join(json.dumps(b) for b in lines)
    response = client.post(IMPORT, content=content, headers={**NDJSON, **callers.operator})

    assert response.status_code == 422, response.text
    body = response.json()
    assert error_rows(body) == {
        **EVERY_ERROR,
        4: {"accessibility.entree_largeur_mini", "venue.siret", "location.declared_insee"},
    }
    reasons = {(e["row"], e["field"]): e["reason"] for e in body["errors"]}
    assert reasons[(4, "accessibility.entree_largeur_mini")] == "must be a number, not true"


def test_a_refused_row_with_a_good_location_gets_no_location_error(
    client: TestClient, callers: Callers
) -> None:
    content = to_csv([row("G-1", 2.3522, 48.8566, "75056", **{"venue.siret": "12345678901234"})])
    response = client.post(IMPORT, content=content, headers={**CSV, **callers.operator})
    assert response.status_code == 422
    assert error_rows(response.json()) == {1: {"venue.siret"}}


@pytest.mark.parametrize("cell", ["NaN", "inf", "-Infinity"])
def test_a_csv_coordinate_that_is_not_finite_is_refused_naming_it(
    client: TestClient, callers: Callers, cell: str
) -> None:
    content = to_csv([row("F-1", 2.3522, 48.8566, "75056", **{"location.lon": cell})])
    response = client.post(IMPORT, content=content, headers={**CSV, **callers.operator})
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {"row": 1, "field": "location.lon", "reason": "must be a finite number"}
    ]


def test_a_csv_measurement_as_a_boolean_word_is_refused(
    client: TestClient, callers: Callers
) -> None:
    content = to_csv(
        [row("B-1", 2.3522, 48.8566, "75056", **{"accessibility.entree_largeur_mini": "true"})]
    )
    response = client.post(IMPORT, content=content, headers={**CSV, **callers.operator})
    assert response.status_code == 422, response.text
    assert error_rows(response.json()) == {1: {"accessibility.entree_largeur_mini"}}


def test_a_csv_row_with_a_type_error_reports_its_record_level_errors_too(
    client: TestClient, callers: Callers
) -> None:
    """Bourg-en-Bresse's INSEE code as a spreadsheet leaves it, a SIRET with a bad key, hours
    the OSM syntax refuses; and a measurement that is not a number, in a row whose point is
    in Lyon though it declares Paris: every error of each row in the one report."""
    rows = [
        row("Y-1", 2.3522, 48.8566, "75056"),
        row(
            "Y-2",
            5.2251,
            46.2052,
            "1053",
            **{"venue.siret": "73282932000075", "opening_hours": "Mo-Fr 25:00-26:00"},
        ),
        row(
            "Y-3",
            4.8357,
            45.7640,
            "75056",
            **{"venue.siret": "73282932000075", "accessibility.entree_largeur_mini": "large"},
        ),
    ]
    for dry_run in ("false", "true"):
        response = client.post(
            IMPORT + f"?dry_run={dry_run}",
            content=to_csv(rows),
            headers={**CSV, **callers.operator},
        )
        assert response.status_code == 422, response.text
        assert error_rows(response.json()) == {
            2: {"location.declared_insee", "venue.siret", "opening_hours"},
            3: {"accessibility.entree_largeur_mini", "venue.siret", "location.declared_insee"},
        }


def test_an_ndjson_row_with_a_type_error_reports_its_record_level_errors_too(
    client: TestClient, callers: Callers
) -> None:
    tomorrow = (timespans.today() + timedelta(days=1)).isoformat()
    lines = [
        cabin_body("Y-1"),
        cabin_body(
            "Y-2",
            location__declared_insee="1053",
            venue__siret="73282932000075",
            declarations__cpam_informed_date=tomorrow,
            siting__responsible_person__trained_on_date="2026-02-30",
            # a kind that is not one: no "description required" follows from it
            care_links=[{"kind": "pharmacy", "finess": "990012345"}],
        ),
    ]
    content = "\n".join(json.dumps(b) for b in lines)
    response = client.post(IMPORT, content=content, headers={**NDJSON, **callers.operator})
    assert response.status_code == 422, response.text
    assert error_rows(response.json()) == {
        2: {
            "location.declared_insee",
            "venue.siret",
            "declarations.cpam_informed_date",
            "siting.responsible_person.trained_on_date",
            "care_links.0.kind",
            "care_links.0.finess",
        }
    }
    reasons = {e["field"]: e["reason"] for e in response.json()["errors"]}
    assert reasons["declarations.cpam_informed_date"] == f"{tomorrow} is in the future"


def test_a_row_changing_a_decommissioned_cabin_is_refused_as_patch_refuses_it(
    client: TestClient, db: Session, callers: Callers
) -> None:
    """A decommissioned cabin is kept as it was: re-importing it unchanged is fine, changing it
    is the row's error (the upsert rewrote it, where PATCH answers 409)."""
    rows = [row("Z-1", 2.3522, 48.8566, "75056"), row("Z-2", 4.8357, 45.7640, "69123")]
    client.post(IMPORT, content=to_csv(rows), headers={**CSV, **callers.operator})
    closed = next(c for c in cabins_of(db, callers.operator_id) if c.operator_reference == "Z-1")
    deleted = client.delete(f"/v1/cabins/{closed.id}", headers=callers.operator)
    assert deleted.status_code == 200, deleted.text
    version = deleted.json()["version"]
    events = db.scalar(select(func.count()).select_from(AuditEvent))

    same = client.post(IMPORT, content=to_csv(rows), headers={**CSV, **callers.operator})
    assert same.status_code == 200, same.text
    # Z-2 confirms its blocks (SIT-20); the decommissioned Z-1 is left as it was.
    assert (same.json()["updated"], same.json()["unchanged"]) == (1, 1)

    rows[0]["venue.name"] = "Pharmacie rouverte"
    rows[1]["venue.name"] = "Pharmacie renommée"
    atomic = client.post(IMPORT, content=to_csv(rows), headers={**CSV, **callers.operator})
    assert atomic.status_code == 422, atomic.text
    assert error_rows(atomic.json()) == {1: {"operator_reference"}}
    assert (
        "decommissioned: it is kept as it was; it can no longer change"
        in (atomic.json()["errors"][0]["reason"])
    )

    partial = client.post(
        IMPORT + "?mode=partial", content=to_csv(rows), headers={**CSV, **callers.operator}
    )
    assert partial.status_code == 200, partial.text
    assert error_rows(partial.json()) == {1: {"operator_reference"}}
    assert (partial.json()["created"], partial.json()["updated"]) == (0, 1)
    db.expire_all()
    after = {c.operator_reference: c for c in cabins_of(db, callers.operator_id)}
    assert after["Z-1"].venue_name == "Pharmacie Z-1"
    assert after["Z-1"].version == version
    assert after["Z-2"].venue_name == "Pharmacie renommée"
    # Only the confirmation and the update of Z-2 were audited.
    assert db.scalar(select(func.count()).select_from(AuditEvent)) == events + 2


def test_a_blank_csv_row_keeps_its_number_in_the_report(
    client: TestClient, callers: Callers
) -> None:
    """Row n of the report is the n-th row under the header, as the spreadsheet shows it: a
    blank row (an empty line, or one of empty cells) is skipped but not renumbered away."""
    good = to_csv([row("B-1", 2.3522, 48.8566, "75056")]).decode().splitlines()
    bad = to_csv([row("B-5", 2.3522, 48.8566, "75056", **{"venue.siret": "12345678901234"})])
    lines = [*good, "", good[1].replace("B-1", "B-3"), "," * (len(COLUMNS) - 1)]
    lines.append(bad.decode().splitlines()[1])
    response = client.post(
        IMPORT + "?dry_run=true",
        content=("\r\n".join(lines) + "\r\n").encode(),
        headers={**CSV, **callers.operator},
    )
    assert response.status_code == 422, response.text
    assert error_rows(response.json()) == {5: {"venue.siret"}}


def test_an_ndjson_row_is_its_line_number_blank_lines_counted(
    client: TestClient, callers: Callers
) -> None:
    content = "\n".join(
        [json.dumps(cabin_body("N-1")), "", json.dumps(cabin_body("N-3", venue__kind="x"))]
    )
    response = client.post(IMPORT, content=content, headers={**NDJSON, **callers.operator})
    assert response.status_code == 422
    assert error_rows(response.json()) == {3: {"venue.kind"}}


def test_cells_of_the_wrong_type_say_the_form_the_registry_reads(
    client: TestClient, callers: Callers
) -> None:
    """What a spreadsheet writes: a French date, a cross for yes, a width with its unit."""
    columns = [*COLUMNS, "declarations.ars_declaration_date", "venue.cabin_count"]
    cells = {
        "declarations.ars_declaration_date": "15/01/2026",
        "accessibility.hearing_loop": "x",
        "accessibility.entree_largeur_mini": "90 cm",
        "venue.cabin_count": "deux",
    }
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, delimiter=";", lineterminator="\r\n")
    writer.writeheader()
    writer.writerow(row("T-1", 2.3522, 48.8566, "75056", **cells))
    writer.writerow(
        row("T-2", 2.3522, 48.8566, "75056", **{"declarations.ars_declaration_date": "2026/1/15"})
    )
    writer.writerow(
        row("T-3", 2.3522, 48.8566, "75056", **{"declarations.ars_declaration_date": "2026-02-30"})
    )
    response = client.post(
        IMPORT, content=out.getvalue().encode(), headers={**CSV, **callers.operator}
    )
    assert response.status_code == 422, response.text
    reasons = {(e["row"], e["field"]): e["reason"] for e in response.json()["errors"]}
    assert reasons == {
        (1, "declarations.ars_declaration_date"): "must be a date written YYYY-MM-DD:"
        " 15/01/2026 is written 2026-01-15 if it is day/month/year",
        (1, "accessibility.hearing_loop"): BOOLEAN_CELL_REASON,
        (1, "accessibility.entree_largeur_mini"): "must be a number, e.g. 90 or 90.5",
        (1, "venue.cabin_count"): "must be a whole number, e.g. 2",
        (2, "declarations.ars_declaration_date"): "must be a date written YYYY-MM-DD,"
        " e.g. 2026-01-15",
        (3, "declarations.ars_declaration_date"): "2026-02-30 is not a day of the calendar",
    }


def test_an_ndjson_line_holding_what_a_read_gives_names_the_read_only_fields(
    client: TestClient, callers: Callers
) -> None:
    """A line made from GET /v1/cabins: the fields the registry sets are refused as such."""
    line = {
        **cabin_body("G-1"),
        "id": str(uuid.uuid4()),
        "lifecycle": {"status": "active"},
        "colour": "red",
    }
    line["location"]["commune"] = {"insee": "75056"}
    response = client.post(IMPORT, content=json.dumps(line), headers={**NDJSON, **callers.operator})
    assert response.status_code == 422, response.text
    reasons = {e["field"]: e["reason"] for e in response.json()["errors"]}
    assert reasons["id"] == "is set by the registry (read-only): leave it out of what you send"
    assert reasons["location.commune"] == reasons["id"]
    assert "POST /v1/cabins/{id}/transitions" in reasons["lifecycle"]
    assert reasons["colour"].startswith("is not a field of the cabin record")


def test_unnamed_empty_columns_a_spreadsheet_leaves_are_ignored(
    client: TestClient, db: Session, callers: Callers
) -> None:
    """Excel writes `;;` after the last column when a column beyond it was once used: those
    columns have no name and no value. A value under a column with no name is refused."""
    lines = to_csv([row("E-1", 2.3522, 48.8566, "75056"), row("E-2", 4.8357, 45.7640, "69123")])
    text = "\r\n".join(line + ";;" for line in lines.decode().replace(",", ";").splitlines())
    assert ";;" in text.splitlines()[0]
    response = client.post(
        IMPORT, content=(text + "\r\n").encode(), headers={**CSV, **callers.operator}
    )
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 2

    filled = text.replace("E-2", "E-3").rsplit(";", 1)[0] + ";oops\r\n"
    response = client.post(IMPORT, content=filled.encode(), headers={**CSV, **callers.operator})
    assert response.status_code == 422, response.text
    column = len(COLUMNS) + 2
    assert response.json()["errors"] == [
        {
            "row": 2,
            "field": f"column {column}",
            "reason": "holds a value but has no name in the header line",
        }
    ]


def test_an_unknown_column_close_to_a_known_one_is_named_as_a_likely_typo(
    client: TestClient, callers: Callers
) -> None:
    content = to_csv([row("E-1", 2.3522, 48.8566, "75056")]).replace(
        b"accessibility.hearing_loop", b"accessibilty.hearing_loop"
    )
    response = client.post(IMPORT, content=content, headers={**CSV, **callers.operator})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "accessibilty.hearing_loop",
            "reason": "unknown column; did you mean accessibility.hearing_loop?"
            " see schemas/cabin-import.tableschema.json",
        }
    ]


def test_an_empty_required_cell_and_a_value_off_the_list_say_what_was_sent(
    client: TestClient, callers: Callers
) -> None:
    rows = [
        row("", 2.3522, 48.8566, "75056"),
        row("V-2", 2.3522, 48.8566, "75056", **{"siting.assistance_modes": "pharmacist|Nurse"}),
    ]
    response = client.post(IMPORT, content=to_csv(rows), headers={**CSV, **callers.operator})
    assert response.status_code == 422, response.text
    reasons = {(e["row"], e["field"]): e["reason"] for e in response.json()["errors"]}
    assert reasons == {
        (1, "operator_reference"): "required: it is missing or empty",
        (2, "siting.assistance_modes.1"): "'Nurse' is not one of the values the registry takes:"
        " 'none', 'pharmacist', 'nurse', 'other_health_professional' or 'trained_staff'",
    }


@pytest.mark.parametrize(
    ("content", "status", "field"),
    [
        (b"operator_reference,location.lon,colour\nX,2.35,red\n", 422, "colour"),
        ("operator_reference\nÉpicerie\n".encode("cp1252"), 400, "body"),
        (b"\n\n", 422, "body"),
    ],
)
def test_a_job_with_a_bad_file_is_refused_at_once_not_started_then_failed(
    client: TestClient, db: Session, callers: Callers, content: bytes, status: int, field: str
) -> None:
    """The file's own problems need no job: the answer comes before any 202."""
    jobs_before = db.scalar(select(func.count()).select_from(ImportJob))
    response = client.post(
        IMPORT,
        content=content,
        headers={**CSV, **callers.operator, "Prefer": "respond-async"},
    )
    assert response.status_code == status, response.text
    assert response.json()["errors"][0]["field"] == field
    assert db.scalar(select(func.count()).select_from(ImportJob)) == jobs_before


def test_a_cell_too_long_for_the_csv_reader_is_422_naming_its_row(
    client: TestClient, db: Session, callers: Callers
) -> None:
    """A cell over the CSV reader's limit (131,072 characters: an unclosed quote swallows the
    rest of the file) is the file's problem with its line, not a 500; nothing is written."""
    rows = [
        row("T-1", 2.3522, 48.8566, "75056"),
        row("T-2", 4.8357, 45.7640, "69123", **{"venue.name": "x" * 140_000}),
    ]
    # A blank row keeps the file on the Python reader (COPY refuses one).
    content = to_csv(rows).replace(b"\n", b"\n\n", 1)
    response = client.post(IMPORT, content=content, headers={**CSV, **callers.operator})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [
        {"field": "body", "reason": "line 4: field larger than field limit (131072)"}
    ]
    assert cabins_of(db, callers.operator_id) == []
    # in the header too, where the set-based path read it with the csv module (a 500)
    header = b"operator_reference;" + b"x" * 140_000 + b"\nT-1;y\n"
    response = client.post(IMPORT, content=header, headers={**CSV, **callers.operator})
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {"field": "body", "reason": "line 1: field larger than field limit (131072)"}
    ]
