"""The set-based path of the CSV import against the registry's own validation: on the same
file, the rows SQL certifies are exactly rows the Python checks accept, staged with the same
values and given the same create diff; every other row is checked in Python, so the report is
the one a row-by-row import gives. Also: the bulk audit hash is the trail's hash."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import uuid
from datetime import UTC, date, datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from service.audit.trail import Actor, event_hash, orjson_writes_as_json, verify
from service.cabins import importer
from service.cabins.imports import setbased, staging
from service.cabins.imports.audit_bulk import as_jsonb_returns
from service.cabins.imports.columns import import_columns
from service.cabins.imports.parse import decode, read_records
from service.cabins.models import Cabin
from service.cabins.records import flat_diff
from service.cabins.service import REFERENCE_ALPHABET, draw_reference
from tests.auth.factories import make_operator, valid_siret

TODAY = date(2026, 11, 23)


def base_row(ref: str) -> dict[str, str]:
    return {
        "operator_reference": ref,
        "location.lon": "2.3522219000000001",
        "location.lat": "48.856614",
        "location.declared_insee": "75056",
        "location.address.number": " 12 bis ",
        "location.address.street": "rue de l'Église",
        "location.address.postcode": "75001",
        "location.address.commune_name": "Paris",
        "venue.kind": "autre",
        "venue.description": "Un lieu",
        "venue.name": 'Chez "Nous"',
        "venue.siret": valid_siret(),
        "venue.finess": "750000001",
        "venue.naf": "47.73Z",
        "venue.building_regime": "new",
        "venue.cabin_count": "007",
        "opening_hours": "Mo-Fr 09:00-19:00",
        "siting.placement": "outdoor",
        "siting.directly_reachable_from_public_space": "YES",
        "siting.enclosure": "open_borne",
        "siting.sound_insulated": "0",
        "siting.waiting_area_dedicated": "off",
        "siting.commercial_solicitation_free": "T",
        "siting.responsible_person.name_or_role": "chef",
        "siting.responsible_person.trained_on_date": "2024-02-29",
        "siting.responsible_person.bound_by_secrecy": "n",
        "siting.staff_hours": "24/7",
        "siting.assistance_modes": "nurse|pharmacist",
        "siting.devices": "scale",
        "declarations.ars_declaration_date": "2025-01-01",
        "declarations.ars_declaration_reference": "ARS-1",
        "declarations.cpam_informed_date": "2025-01-02",
        "declarations.cpts_informed_date": "2025-01-03",
        "declarations.concertation.date": "2025-05-05",
        "declarations.concertation.parties": "ars|cpts",
        "care_links": json.dumps(
            [
                {"kind": "pharmacie", "siret": valid_siret(), "name": " P "},
                {"kind": "professionnel_rpps", "rpps": "12345678901"},
            ]
        ),
        "provider.name": "Prov",
        "provider.siret": valid_siret(),
        "provider.kind": "platform_only",
        "provider.agrement_number": "A1",
        "provider.agrement_start_date": "2020-01-01",
        "provider.agrement_end_date": "2030-01-01",
        "fees.base_fee_eur": "25,5",
        "fees.sector": "optam",
        "fees.depassements_possible": "false",
        "fees.optional_services": json.dumps([{"name": "x", "price_eur": 5, "optional": True}]),
        "fees.venue_access_fee_eur": "0",
        "fees.info_url": "https://Example.org",
        "fees.shown_on_site": "true",
        "accessibility.entree_plain_pied": "true",
        "accessibility.entree_largeur_mini": "90",
        "accessibility.threshold_height_cm": "2.50",
        "accessibility.ramp_slope_pct": "4",
        "accessibility.ramp_length_cm": "300",
        "accessibility.path_width_cm": "140.25",
        "accessibility.turning_diameter_cm": "150",
        "accessibility.usage_space_width_cm": "80",
        "accessibility.controls_height_min_cm": "90",
        "accessibility.controls_height_max_cm": "130",
        "accessibility.knee_clearance_height_cm": "0.0001",
        "accessibility.seat_or_transfer_possible": "true",
        "accessibility.live_captioning": "1",
        "accessibility.registre_url": "http://acces.fr/registre?x=1",
        "accessibility.acceslibre_id": "abc",
    }


EMPTY_PROVIDER = {
    k: "" for k in base_row("x") if k.startswith("provider.") or k == "venue.description"
}
VARIANTS: list[dict[str, str]] = [
    {},
    {"venue.kind": "msp", "care_links": "", "fees.optional_services": "[]", **EMPTY_PROVIDER},
    {k: "" for k in base_row("x") if k.startswith(("fees.", "declarations.concertation."))},
    {"location.lon": "2.3522", "location.lat": "48.8566", "siting.devices": ""},
    {"siting.assistance_modes": "", "accessibility.knee_clearance_height_cm": "0"},
    {"siting.assistance_modes": "nurse| |pharmacist|"},  # valid, not in the plain form
    {"accessibility.knee_clearance_height_cm": "-0"},
    {"accessibility.knee_clearance_height_cm": "1e1"},
    {"venue.siret": "35600000000048"},  # La Poste's head office: valid, checked in Python
    {"siting.responsible_person.trained_on_date": "2023-02-29"},
    {"declarations.concertation.date": ""},
    {"venue.cabin_count": "101"},
    {"opening_hours": "Mo-Fr 25:00-26:00"},
    {"care_links": json.dumps([{"kind": "pharmacie", "name": "no id"}])},
    {"care_links": "[{"},
    {"accessibility.ramp_slope_pct": ""},
    {"accessibility.controls_height_min_cm": "200"},
    {"accessibility.threshold_height_cm": "5"},
    {"venue.siret": "12345678901234"},
    {"provider.siret": "1234567890123"},
    {"declarations.cpam_informed_date": "2099-01-01"},
    {"provider.agrement_end_date": "2019-01-01"},
    {"location.declared_insee": "7505"},
    {"venue.description": ""},
    {"siting.devices": "scale|laser"},
    {"fees.info_url": "not a url"},
    {"location.address.street": "\u00a0rue X\u2003"},
    {"operator_reference": "T-dup"},
    {"operator_reference": " T-dup "},
    {"accessibility.entree_largeur_mini": "90,"},
    {"venue.finess": "960000001"},
    {"siting.sound_insulated": "maybe"},
    {"location.lon": "180.5"},
    {"location.lat": ""},
    {"venue.kind": "kiosque"},
    {"venue.naf": "47.73z"},
    # free text holds no control character; at the edges, C0 separators strip as white space
    {"venue.name": "Chez\x07Nous"},
    {"location.address.street": "rue\tX"},
    {"siting.responsible_person.name_or_role": "chef\x9b"},
    {"declarations.ars_declaration_reference": "ARS\r\n1"},
    {"location.address.commune_name": "\x1fParis\x85"},
    {"care_links": json.dumps([{"kind": "pharmacie", "finess": "750000001", "name": "a\x7fb"}])},
]


def tricky_csv(delimiter: str = ",", unnamed: int = 0, lineterminator: str = "\n") -> bytes:
    """The variants as a file; `unnamed` empty columns with no name after the last one."""
    names = [c.name for c in import_columns()]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=lineterminator)
    writer.writerow(names + [""] * unnamed)
    for i, variant in enumerate(VARIANTS, start=1):
        row = {**base_row(f"T-{i}"), **variant}
        writer.writerow([row.get(name, "") for name in names] + [""] * unnamed)
    return out.getvalue().encode()


def staged(db: Session) -> dict[int, tuple[Any, ...]]:
    names = [n for n in staging.STAGED_NAMES if n != "reference"]
    rows = db.execute(text(f"SELECT {', '.join(names)} FROM {staging.STAGING} ORDER BY row_no"))
    return {r[0]: tuple(r) for r in rows}


def normalised(db: Session, diff: dict[str, Any]) -> Any:
    as_jsonb = db.scalar(text("SELECT CAST(:d AS jsonb)::text"), {"d": orjson.dumps(diff).decode()})
    return json.loads(as_jsonb)


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_certified_rows_are_staged_as_the_python_checks_stage_them(
    db: Session, delimiter: str
) -> None:
    body = tricky_csv(delimiter)
    operator_id = uuid.uuid4()
    plan = setbased.plan(decode(body))
    assert plan is not None and setbased.load(db, plan)
    classified = setbased.classify(db, plan, operator_id, TODAY)
    checked = importer._check(list(read_records(body, "csv")), operator_id, TODAY, None)
    certified = {
        r[0] for r in setbased._run(db, f"SELECT row_no FROM {setbased.CHECKED} WHERE certified")
    }
    # Certified rows are rows the Python checks accept; the rest are left to them.
    assert certified and certified <= set(checked.good)
    assert {r.row for r in classified.python_rows} == set(range(1, len(VARIANTS) + 1)) - certified
    assert {1, 2, 3, 4, 5} <= certified
    # The valid rows outside the plain forms are checked in Python, not refused.
    assert {6, 7, 8, 9} <= set(checked.good) - certified

    staging.create_staging(db)
    setbased.stage(db, plan)
    from_sql = staged(db)
    db.execute(text(f"TRUNCATE {staging.STAGING}"))
    documents: dict[int, dict[str, Any]] = {}
    good = {row: cabin for row, cabin in checked.good.items() if row in certified}
    staging.copy_rows(db, importer._staged_rows(good, documents))
    assert from_sql == staged(db)

    diffs = setbased._run(
        db,
        f"SELECT j.row_no, {plan.sql.create_diff({})} FROM {setbased.JSON} j ORDER BY j.row_no",
    )
    assert [row for row, _ in diffs] == sorted(certified)
    for row, diff in diffs:
        expected = normalised(db, flat_diff(None, documents[row]))
        # The text is the canonical JSON the audit hash reads, of the diff Python builds.
        assert diff == json.dumps(
            expected, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )


def both_reports(db: Session, body: bytes) -> tuple[Any, Any]:
    """The dry-run report of a partial import, set-based and (forced) row by row."""
    operator_id = make_operator(db, "Opérateur des deux chemins")
    kwargs: dict[str, Any] = {
        "operator_id": operator_id,
        "actor": Actor(name="test"),
        "body": body,
        "kind": "csv",
        "options": importer.ImportOptions(mode="partial", dry_run=True, today=TODAY),
    }
    setbased_report = importer.run_import(db, **kwargs)
    original = setbased.plan
    try:
        setbased.plan = lambda _text: None  # type: ignore[assignment]
        python_report = importer.run_import(db, **kwargs)
    finally:
        setbased.plan = original  # type: ignore[assignment]
    return setbased_report, python_report


def same(a: Any, b: Any) -> None:
    assert a.errors == b.errors
    assert a.warnings == b.warnings
    assert (a.rows_total, a.rows_invalid, a.created, a.updated, a.unchanged) == (
        b.rows_total,
        b.rows_invalid,
        b.created,
        b.updated,
        b.unchanged,
    )


def test_the_report_is_the_row_by_row_report(db: Session) -> None:
    setbased_report, python_report = both_reports(db, tricky_csv())
    same(setbased_report, python_report)
    assert setbased_report.rows_total == len(VARIANTS)
    assert setbased_report.errors


HEADER = "operator_reference,location.lon,location.lat,location.declared_insee,venue.kind\n"


@pytest.mark.parametrize(
    "body",
    [
        HEADER + 'Q-1,2.3522,48.8566,75056,pharmacie_officine\n\nQ-2,2.3522,48.8566,75056,"msp"\n',
        HEADER + 'Q-1,2.3522,48.8566,75056,pharma"cie\nQ-2,2.3522,48.8566,75056,msp\n',
        HEADER + "Q-1,2.3522,48.8566,75056\nQ-2,2.3522,48.8566,75056,msp\n",
        HEADER + " , , , , \nQ-1,2.3522,48.8566,75056,msp\n",
        HEADER + "Q-1,2.3522,48.8566,75056,msp\n\\.\nQ-2,2.3522,48.8566,75056,msp\n",
    ],
    ids=["blank-line", "quote-in-cell", "short-row", "blank-cells", "end-of-data-marker"],
)
def test_files_copy_reads_otherwise_are_read_by_python(db: Session, body: str) -> None:
    plan = setbased.plan(decode(body.encode()))
    assert plan is None or not setbased.load(db, plan)
    setbased_report, python_report = both_reports(db, body.encode())
    same(setbased_report, python_report)


def test_the_bulk_hash_is_the_trail_hash() -> None:
    at = datetime.now(UTC)
    client = uuid.uuid4()
    for diff in [
        {"a": [None, 1.5], "b": [None, "Église «x»\n\t\u2028"], "c": [None, ["x", "y"]]},
        {"z": [None, 90.0], "é": [None, True], "a.b": [None, [{"k": 0.0001, "n": None}]]},
    ]:
        assert orjson_writes_as_json(diff)
        for client_id in (None, client):
            expected = event_hash(
                at=at,
                actor="bench",
                actor_client_id=client_id,
                action="cabin.create",
                target_type="cabin",
                target_id="t",
                diff=diff,
                reason="import",
                prev_hash="0" * 64,
            )
            as_json = json.dumps(
                {
                    "at": at.astimezone(UTC).isoformat(),
                    "actor": "bench",
                    "actor_client_id": str(client_id) if client_id else None,
                    "action": "cabin.create",
                    "target_type": "cabin",
                    "target_id": "t",
                    "diff": diff,
                    "reason": "import",
                    "prev_hash": "0" * 64,
                },
                sort_keys=True,
                separators=(",", ":"),
                ensure_ascii=False,
            )
            assert expected == hashlib.sha256(as_json.encode()).hexdigest()
    assert as_jsonb_returns({"a": [None, -0.0, [{"b": -0.0}]]}) == {"a": [None, 0.0, [{"b": 0.0}]]}
    assert str(as_jsonb_returns(-0.0)) == "0.0"
    assert not orjson_writes_as_json({"a": [None, 1e-5]})
    assert not orjson_writes_as_json({"a": [None, [{"p": 2e16}]]})


def test_a_set_based_import_keeps_the_chain_verifiable(db: Session) -> None:
    operator_id = make_operator(db, "Opérateur de la chaîne")
    body = tricky_csv()
    report = importer.run_import(
        db,
        operator_id=operator_id,
        actor=Actor(name="test"),
        body=body,
        kind="csv",
        options=importer.ImportOptions(mode="partial", evaluate=False, today=TODAY),
    )
    assert report.created >= 5
    assert verify(db).ok


REFERENCE = re.compile(r"^CAB-[0-9A-HJKMNP-TV-Z]{8}$")  # Crockford's base32: no I, L, O, U


def test_both_import_paths_draw_public_references_of_the_one_format(db: Session) -> None:
    """The set-based import draws references in SQL, the row-by-row one in Python, as a
    single create does: CAB- and 8 characters of the one alphabet, in both."""
    drawn: dict[str, list[str]] = {}
    for path in ("set-based", "row by row"):
        operator_id = make_operator(db, f"Opérateur {path}")
        original = setbased.plan
        if path == "row by row":
            setbased.plan = lambda _text: None  # type: ignore[assignment]
        try:
            report = importer.run_import(
                db,
                operator_id=operator_id,
                actor=Actor(name="test"),
                body=tricky_csv(),
                kind="csv",
                options=importer.ImportOptions(mode="partial", evaluate=False, today=TODAY),
            )
        finally:
            setbased.plan = original  # type: ignore[assignment]
        drawn[path] = list(
            db.scalars(select(Cabin.reference).where(Cabin.operator_id == operator_id))
        )
        assert len(drawn[path]) == report.created >= 5
    drawn["create"] = [draw_reference() for _ in range(2000)]
    for path, references in drawn.items():
        assert all(REFERENCE.match(r) for r in references), (path, references[:5])
    assert set("".join(r[4:] for r in drawn["create"])) == set(REFERENCE_ALPHABET)


def test_the_sql_siret_check_is_stdnums(db: Session) -> None:
    import random

    from stdnum.fr import siret as stdnum_siret

    rng = random.Random(5)
    values = [valid_siret() for _ in range(200)]
    values += ["".join(rng.choice("0123456789") for _ in range(14)) for _ in range(800)]
    values += ["35600000000048", "35600000049837", "1234567890123", "1234567890123a"]
    sql = setbased.Sql([c for c in import_columns() if c.name == "venue.siret"])
    check = sql.valid(sql.columns["venue.siret"])
    array = "ARRAY[" + ", ".join(f"'{v}'" for v in values) + "]"
    rows = setbased._run(db, f"SELECT t.v1, {check} FROM unnest({array}) AS t(v1)")
    for value, certified in rows:
        if value.startswith("356000000"):
            assert certified is False  # La Poste's rule: left to stdnum
        else:
            assert certified == stdnum_siret.is_valid(value), value


def test_the_sql_finess_check_is_check_records(db: Session) -> None:
    import random

    from service.cabins.validation import finess_problem

    rng = random.Random(7)
    starts = ["00", "01", "2A", "2B", "2C", "20", "95", "96", "97", "970", "971", "976", "977"]
    values = [s + "".join(rng.choice("0123456789") for _ in range(9 - len(s))) for s in starts]
    values += ["".join(rng.choice("0123456789AB") for _ in range(9)) for _ in range(400)]
    values += ["75000000", "7500000011", "75000000a"]
    sql = setbased.Sql([c for c in import_columns() if c.name == "venue.finess"])
    check = sql.valid(sql.columns["venue.finess"])
    array = "ARRAY[" + ", ".join(f"'{v}'" for v in values) + "]"
    rows = setbased._run(db, f"SELECT t.v1, {check} FROM unnest({array}) AS t(v1)")
    certified = {value: certified for value, certified in rows}
    assert certified == {value: finess_problem(value) is None for value in values}
    assert set(certified.values()) == {True, False}


def test_a_file_with_crlf_line_endings_is_read_by_copy(db: Session) -> None:
    """Excel ends its lines with CRLF: COPY reads such a file, as Python does."""
    body = tricky_csv(";", lineterminator="\r\n")
    plan = setbased.plan(decode(body))
    assert plan is not None and setbased.load(db, plan)
    setbased_report, python_report = both_reports(db, body)
    same(setbased_report, python_report)
    assert setbased_report.rows_total == len(VARIANTS)


def with_unnamed_columns(body: bytes) -> bytes:
    """The file as Excel saves it after a column beyond the last was once used: `;;`."""
    lines = body.decode().replace(",", ";").splitlines()
    return "".join(line + ";;\r\n" for line in lines).encode()


def test_unnamed_empty_columns_keep_the_file_on_the_set_based_path(db: Session) -> None:
    body = with_unnamed_columns(HEADER.encode() + b"Q-1,2.3522,48.8566,75056,msp\n")
    plan = setbased.plan(decode(body))
    assert plan is not None and plan.unnamed == (6, 7)
    assert setbased.load(db, plan)
    classified = setbased.classify(db, plan, uuid.uuid4(), TODAY)
    assert (classified.total, classified.certified) == (1, 1)
    # Excel's own file: `;`, CRLF line endings and the trailing `;;`.
    excel = tricky_csv(";", 2, "\r\n")
    plan = setbased.plan(decode(excel))
    assert plan is not None and setbased.load(db, plan)
    setbased_report, python_report = both_reports(db, excel)
    same(setbased_report, python_report)
    assert setbased_report.rows_total == len(VARIANTS)
    assert setbased_report.errors


def test_a_value_under_an_unnamed_column_is_its_rows_error_on_both_paths(db: Session) -> None:
    body = with_unnamed_columns(
        HEADER.encode() + b"Q-1,2.3522,48.8566,75056,msp\nQ-2,2.3522,48.8566,75056,msp\n"
    )
    filled = body.replace(b"msp;;\r\n", b"msp;;oops\r\n", 1)
    plan = setbased.plan(decode(filled))
    assert plan is not None and not setbased.load(db, plan)
    setbased_report, python_report = both_reports(db, filled)
    same(setbased_report, python_report)
    assert setbased_report.errors == [
        {
            "row": 1,
            "field": "column 7",
            "reason": "holds a value but has no name in the header line",
        }
    ]
