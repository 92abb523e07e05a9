"""The import as operators send it: files with no data row, a declared charset, and the
files real tools write (spreadsheets, Python's csv module, NDJSON writers)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.cabins.imports import setbased
from service.cabins.imports.columns import BOOLEAN_CELL_REASON, FALSE_WORDS, TRUE_WORDS
from service.cabins.imports.models import ImportJob
from tests.auth.fixtures import Callers
from tests.cabins.factories import cabin_body
from tests.cabins.test_import import COLUMNS, CSV, IMPORT, NDJSON, cabins_of, row, to_csv

HEADER_ONLY = to_csv([])
NO_DATA = [
    (HEADER_ONLY, CSV, "the file has its header line and no data row under it"),
    (HEADER_ONLY.replace(b"\n", b"\r\n") + b"\r\n,,\r\n", CSV, "the file has its header line"),
    (b"\xef\xbb\xbf" + HEADER_ONLY, CSV, "the file has its header line"),
    (b"", CSV, "the file is empty"),
    (b"", NDJSON, "the file is empty"),
    (b"\n\n  \r\n", NDJSON, "every line of the file is blank"),
]


@pytest.mark.parametrize("dry_run", [False, True])
@pytest.mark.parametrize(("content", "headers", "reason"), NO_DATA)
def test_a_file_with_no_data_row_is_422_naming_the_body(
    client: TestClient,
    db: Session,
    callers: Callers,
    content: bytes,
    headers: dict[str, str],
    reason: str,
    dry_run: bool,
) -> None:
    """An operator who uploads a file with nothing to import made a mistake: not a 200 with
    0 rows."""
    jobs_before = db.scalar(select(func.count()).select_from(ImportJob))
    response = client.post(
        IMPORT + f"?dry_run={str(dry_run).lower()}",
        content=content,
        headers={**headers, **callers.operator},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert "no data row" in body["detail"]
    [error] = body["errors"]
    assert error["field"] == "body" and error["reason"].startswith(reason), error
    assert db.scalar(select(func.count()).select_from(ImportJob)) == jobs_before
    assert cabins_of(db, callers.operator_id) == []


@pytest.mark.parametrize(("content", "headers", "reason"), NO_DATA)
def test_a_job_with_no_data_row_is_refused_at_once(
    client: TestClient,
    db: Session,
    callers: Callers,
    content: bytes,
    headers: dict[str, str],
    reason: str,
) -> None:
    jobs_before = db.scalar(select(func.count()).select_from(ImportJob))
    response = client.post(
        IMPORT, content=content, headers={**headers, **callers.operator, "Prefer": "respond-async"}
    )
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["field"] == "body" and error["reason"].startswith(reason), error
    assert db.scalar(select(func.count()).select_from(ImportJob)) == jobs_before


def accented_csv(delimiter: str = ";") -> str:
    """A spreadsheet's file: accents, `;`, CRLF."""
    rows = [
        row("É-1", 2.3522, 48.8566, "75056", **{"venue.name": "Épicerie à côté"}),
        row("É-2", 4.8357, 45.7640, "69123", **{"location.address.street": "rue de l'Église"}),
    ]
    return to_csv(rows, delimiter=delimiter).decode().replace("\n", "\r\n")


@pytest.fixture
def copy_loads(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each import's file was taken by COPY (the set-based path)."""
    seen: list[bool] = []
    load = setbased.load

    def spy(session: Session, plan: setbased.Plan) -> bool:
        seen.append(load(session, plan))
        return seen[-1]

    monkeypatch.setattr(setbased, "load", spy)
    return seen


@pytest.mark.parametrize(
    ("charset", "codec"),
    [
        ("windows-1252", "cp1252"),
        ("Windows-1252", "cp1252"),
        ("iso-8859-1", "latin-1"),
        ('"ISO-8859-1"', "latin-1"),
        ("latin1", "latin-1"),
        ("iso-8859-15", "iso-8859-15"),
        ("utf-8", "utf-8"),
        ("UTF-8", "utf-8-sig"),
        ("utf-16", "utf-16"),
    ],
)
def test_a_csv_is_read_in_the_charset_its_content_type_declares(
    client: TestClient,
    db: Session,
    callers: Callers,
    copy_loads: list[bool],
    charset: str,
    codec: str,
) -> None:
    content = accented_csv().encode(codec)
    response = client.post(
        IMPORT,
        content=content,
        headers={"Content-Type": f"text/csv; charset={charset}", **callers.operator},
    )
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 2
    written = {c.operator_reference: c for c in cabins_of(db, callers.operator_id)}
    assert written["É-1"].venue_name == "Épicerie à côté"
    assert written["É-2"].address_street == "rue de l'Église"
    assert copy_loads == [True]  # re-encoded, the file keeps the set-based path


def test_a_byte_order_mark_wins_over_the_declared_charset(
    client: TestClient, db: Session, callers: Callers
) -> None:
    """As browsers read text (WHATWG Encoding): a file saved as "CSV UTF-8" sent by a tool
    that always declares windows-1252 is not turned into Ã©."""
    content = "\ufeff".encode() + accented_csv().encode()
    response = client.post(
        IMPORT,
        content=content,
        headers={"Content-Type": "text/csv; charset=windows-1252", **callers.operator},
    )
    assert response.status_code == 200, response.text
    names = {c.venue_name for c in cabins_of(db, callers.operator_id)}
    assert "Épicerie à côté" in names


@pytest.mark.parametrize("content_type", ["text/csv", "text/csv; charset=utf-8"])
@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_a_utf16_file_with_its_byte_order_mark_is_read_without_a_charset(
    client: TestClient,
    db: Session,
    callers: Callers,
    copy_loads: list[bool],
    content_type: str,
    codec: str,
) -> None:
    """Excel's "Unicode text" (UTF-16 with its mark) sent as plain text/csv, or by a tool that
    always says UTF-8: the mark says what the file is."""
    content = "\ufeff".encode(codec) + accented_csv(delimiter="\t").encode(codec)
    response = client.post(
        IMPORT, content=content, headers={"Content-Type": content_type, **callers.operator}
    )
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 2
    written = {c.operator_reference: c for c in cabins_of(db, callers.operator_id)}
    assert written["É-1"].venue_name == "Épicerie à côté"
    assert copy_loads == [True]


def test_utf16_declared_without_a_byte_order_mark_is_read_big_endian(
    client: TestClient, db: Session, callers: Callers
) -> None:
    """RFC 2781 §4.3: UTF-16 text without a mark is big-endian, whatever the machine's order."""
    response = client.post(
        IMPORT,
        content=accented_csv().encode("utf-16-be"),
        headers={"Content-Type": "text/csv; charset=utf-16", **callers.operator},
    )
    assert response.status_code == 200, response.text
    written = {c.operator_reference: c for c in cabins_of(db, callers.operator_id)}
    assert written["É-2"].address_street == "rue de l'Église"


def test_ndjson_with_a_utf16_byte_order_mark_is_400_naming_the_body(
    client: TestClient, db: Session, callers: Callers
) -> None:
    content = json.dumps(cabin_body("N-1"), ensure_ascii=False).encode("utf-16")
    response = client.post(IMPORT, content=content, headers={**NDJSON, **callers.operator})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [
        {
            "field": "body",
            "reason": "starts with a UTF-16 byte-order mark: NDJSON is always UTF-8",
        }
    ]
    assert cabins_of(db, callers.operator_id) == []


@pytest.mark.parametrize(
    ("content_type", "reason"),
    [
        ("text/csv; charset=klingon", "charset=klingon is not a character set"),
        ("text/csv; charset=", "charset= is not a character set"),
        ("text/csv; charset=rot13", "charset=rot13 is not a character set"),
        ("text/csv; charset=koi8-r", "charset=koi8-r is not a character set"),
    ],
)
def test_an_unknown_charset_is_415_naming_content_type(
    client: TestClient, db: Session, callers: Callers, content_type: str, reason: str
) -> None:
    response = client.post(
        IMPORT,
        content=accented_csv().encode(),
        headers={"Content-Type": content_type, **callers.operator},
    )
    assert response.status_code == 415, response.text
    [error] = response.json()["errors"]
    assert error["field"] == "Content-Type"
    assert error["reason"].startswith(reason), error
    assert "UTF-8" in error["reason"] and "windows-1252" in error["reason"]
    assert cabins_of(db, callers.operator_id) == []


def test_ndjson_declared_in_another_charset_than_utf8_is_415(
    client: TestClient, db: Session, callers: Callers
) -> None:
    content = json.dumps(cabin_body("N-1"), ensure_ascii=False).encode("cp1252")
    response = client.post(
        IMPORT,
        content=content,
        headers={"Content-Type": "application/x-ndjson; charset=windows-1252", **callers.operator},
    )
    assert response.status_code == 415, response.text
    [error] = response.json()["errors"]
    assert error["field"] == "Content-Type"
    assert "UTF-8" in error["reason"]
    assert cabins_of(db, callers.operator_id) == []

    response = client.post(
        IMPORT,
        content=json.dumps(cabin_body("N-1"), ensure_ascii=False).encode(),
        headers={"Content-Type": "application/x-ndjson; charset=UTF-8", **callers.operator},
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("charset", "content", "reason"),
    [
        # 0x81 is not a character of windows-1252
        ("windows-1252", "\x81", "not windows-1252 at byte {at} (line 2): byte 0x81"),
        ("utf-8", "É".encode("cp1252").decode("latin-1"), "not UTF-8 at byte {at} (line 2)"),
    ],
)
def test_a_body_not_in_its_declared_charset_is_400_giving_the_byte(
    client: TestClient, db: Session, callers: Callers, charset: str, content: str, reason: str
) -> None:
    text = accented_csv().replace("Épicerie", "Epicerie")
    body = text.encode("ascii", errors="replace").replace(
        b"Epicerie", b"E" + content.encode("latin-1")
    )
    response = client.post(
        IMPORT,
        content=body,
        headers={"Content-Type": f"text/csv; charset={charset}", **callers.operator},
    )
    assert response.status_code == 400, response.text
    [error] = response.json()["errors"]
    assert error["field"] == "body"
    at = body.index(content.encode("latin-1"))
    assert error["reason"].startswith(reason.format(at=at)), error
    assert cabins_of(db, callers.operator_id) == []


def test_without_charset_a_windows_1252_file_says_how_to_declare_it(
    client: TestClient, callers: Callers
) -> None:
    response = client.post(
        IMPORT, content=accented_csv().encode("cp1252"), headers={**CSV, **callers.operator}
    )
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "CSV UTF-8" in detail and "charset=windows-1252" in detail


@pytest.mark.parametrize("blank_row", [False, True])
def test_booleans_as_french_spreadsheets_write_them_are_read(
    client: TestClient, db: Session, callers: Callers, copy_loads: list[bool], blank_row: bool
) -> None:
    """Excel and LibreOffice in French write a TRUE cell as VRAI (and operators type oui/non):
    read as true/false on the set-based path and the Python one alike (a blank row sends the
    file to the Python reader)."""
    extra = {"siting.sound_insulated": "VRAI", "accessibility.hearing_loop": "Faux"}
    columns = [*COLUMNS, "siting.sound_insulated"]
    rows = [
        row("F-1", 2.3522, 48.8566, "75056", **extra),
        row("F-2", 4.8357, 45.7640, "69123", **{"siting.sound_insulated": "non"}),
        row("F-3", 1.4442, 43.6047, "31555", **{"accessibility.hearing_loop": "OUI"}),
    ]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, delimiter=";", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    content = out.getvalue().encode()
    if blank_row:
        content = content.replace(b"\r\n", b"\r\n\r\n", 1)

    response = client.post(IMPORT, content=content, headers={**CSV, **callers.operator})

    assert response.status_code == 200, response.text
    assert copy_loads == [not blank_row]
    written = {c.operator_reference: c for c in cabins_of(db, callers.operator_id)}
    assert written["F-1"].siting["sound_insulated"] is True
    assert written["F-1"].accessibility["hearing_loop"] is False
    assert written["F-2"].siting["sound_insulated"] is False
    assert written["F-3"].accessibility["hearing_loop"] is True


def test_a_bad_boolean_cell_is_refused_naming_every_word_a_cell_reads(
    client: TestClient, callers: Callers
) -> None:
    """A boolean cell the importer cannot read says what it reads, the French spreadsheet
    words included; an NDJSON line is JSON, whose booleans are JSON's: its reason says so."""
    content = to_csv(
        [row("B-1", 2.3522, 48.8566, "75056", **{"accessibility.hearing_loop": "peut-être"})]
    )

    response = client.post(IMPORT, content=content, headers={**CSV, **callers.operator})

    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {"row": 1, "field": "accessibility.hearing_loop", "reason": BOOLEAN_CELL_REASON}
    ]
    said = BOOLEAN_CELL_REASON.lower().replace(",", " ").replace("/", " ").split()
    assert set(TRUE_WORDS + FALSE_WORDS) <= set(said)
    assert "VRAI/FAUX" in BOOLEAN_CELL_REASON and "oui/non" in BOOLEAN_CELL_REASON

    line = cabin_body("B-2")
    line["accessibility"]["hearing_loop"] = "VRAI"
    response = client.post(IMPORT, content=json.dumps(line), headers={**NDJSON, **callers.operator})
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {
            "row": 1,
            "field": "accessibility.hearing_loop",
            "reason": "must be true or false (1/0, yes/no and on/off are read too)",
        }
    ]


def libreoffice_csv(rows: list[dict[str, object]]) -> bytes:
    """LibreOffice's "Quote all text cells": every text cell quoted, the header's too, numbers
    bare, `;`, CRLF."""

    def cell(value: object) -> str:
        text = str(value)
        if text == "" or text.replace(",", "").replace("-", "").isdigit():
            return text
        return '"' + text.replace('"', '""') + '"'

    lines = [";".join(cell(name) for name in COLUMNS)]
    lines += [";".join(cell(r[name]) for name in COLUMNS) for r in rows]
    return ("\r\n".join(lines) + "\r\n").encode()


def test_a_csv_with_its_header_quoted_keeps_the_set_based_path(
    client: TestClient, db: Session, callers: Callers, copy_loads: list[bool]
) -> None:
    rows = [
        row("Q-1", "2,3522", "48,8566", "75056", **{"venue.name": 'Pharmacie "du Centre"; RDC'}),
        row("Q-2", "4,8357", "45,764", "69123"),
    ]
    response = client.post(
        IMPORT, content=libreoffice_csv(rows), headers={**CSV, **callers.operator}
    )
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 2
    assert copy_loads == [True]
    written = {c.operator_reference: c for c in cabins_of(db, callers.operator_id)}
    assert written["Q-1"].venue_name == 'Pharmacie "du Centre"; RDC'
    assert written["Q-2"].commune_insee == "69123"


def test_a_repeated_column_is_422_naming_both_positions(
    client: TestClient, db: Session, callers: Callers
) -> None:
    lines = to_csv([row("D-1", 2.3522, 48.8566, "75056")]).decode().splitlines()
    content = f"{lines[0]},venue.name\n{lines[1]},Pharmacie bis\n".encode()
    response = client.post(IMPORT, content=content, headers={**CSV, **callers.operator})
    assert response.status_code == 422, response.text
    position = COLUMNS.index("venue.name") + 1
    assert response.json()["errors"] == [
        {
            "field": "venue.name",
            "reason": f"column {len(COLUMNS) + 1} repeats column {position}; keep one of them",
        }
    ]
    assert cabins_of(db, callers.operator_id) == []


@pytest.mark.parametrize("codec", ["utf-8", "utf-16"])
def test_a_tab_separated_file_is_read_on_the_set_based_path(
    client: TestClient, db: Session, callers: Callers, copy_loads: list[bool], codec: str
) -> None:
    """Excel's "Unicode text" (UTF-16, tabs) and a TSV from a script."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, dialect="excel-tab")
    writer.writeheader()
    writer.writerows([row("T-1", 2.3522, 48.8566, "75056"), row("T-2", 4.8357, 45.7640, "69123")])
    response = client.post(
        IMPORT,
        content=out.getvalue().encode(codec),
        headers={"Content-Type": f"text/csv; charset={codec}", **callers.operator},
    )
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 2
    assert copy_loads == [True]
    written = {c.operator_reference: c for c in cabins_of(db, callers.operator_id)}
    assert written["T-2"].commune_insee == "69123"
    assert written["T-1"].siting["assistance_modes"] == ["pharmacist", "nurse"]
