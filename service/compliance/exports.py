"""The streamed exports of the compliance rows: CSV (following the published Table Schema),
GeoJSON (RFC 7946, each Feature built by PostGIS) and XLSX (openpyxl write-only mode). Rows
come from a server-side cursor and are written as they come, so memory stays flat however
many rows there are."""

from __future__ import annotations

import csv
import io
import json
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from sqlalchemy import RowMapping
from sqlalchemy.orm import Session

from service.auth.deps import Principal
from service.compliance import queries
from service.compliance.filters import Filters
from service.compliance.tableschema import FIELD_NAMES, FORMULA_TRIGGERS, FREE_TEXT_FIELDS

CHUNK_ROWS = 500
FILE_CHUNK_BYTES = 64 * 1024


def _instant(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _plain(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return _instant(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        # The shortest digits that read back as the same float, never in exponent form
        # (Python writes 4e-05 for a longitude 3 m east of the Greenwich meridian): the Table
        # Schema's number is a plain decimal, as the API and the GeoJSON give it.
        return format(Decimal(repr(value)), "f")
    return value


def export_record(row: Mapping[str, Any] | RowMapping) -> dict[str, Any]:
    """One row as the Table Schema's fields, derived from the row's failing verdicts."""
    failing = row["failing"] or []
    since = [datetime.fromisoformat(v["failing_since"]) for v in failing if v.get("failing_since")]
    record = {name: row.get(name) for name in FIELD_NAMES}
    record["failing_rules"] = ";".join(v["rule"] for v in failing)
    record["failing_since"] = min(since) if since else None
    record["unknown_rules"] = ";".join(row["unknown_rules"] or [])
    record["failing_evidence"] = (
        json.dumps({v["rule"]: v["evidence"] for v in failing}, ensure_ascii=False, sort_keys=True)
        if failing
        else None
    )
    return record


def _guarded(value: Any) -> Any:
    """OWASP's guard against CSV injection: Excel and LibreOffice run a cell beginning with
    = + - @ tab or CR as a formula (`=HYPERLINK(…)` in a venue name sends the analyst's data
    away). An apostrophe before it makes the spreadsheet show the text; the RFC 4180 quoting
    keeps a quote or a separator inside the cell. Free-text columns only: a longitude west of
    Greenwich is a number that begins with -, and must be read as one."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


CSV_CELLS = [(name, name in FREE_TEXT_FIELDS) for name in FIELD_NAMES]


def csv_chunks(session: Session, principal: Principal, filters: Filters) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(FIELD_NAMES)
    for count, row in enumerate(queries.stream_rows(session, principal, filters), start=1):
        record = export_record(row)
        writer.writerow(
            [
                _guarded(_plain(record[name])) if free_text else _plain(record[name])
                for name, free_text in CSV_CELLS
            ]
        )
        if count % CHUNK_ROWS == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def geojson_chunks(session: Session, principal: Principal, filters: Filters) -> Iterator[bytes]:
    """The collection's head comes with the first features, so the first chunk has run the
    query (see the export route)."""
    parts: list[str] = ['{"type":"FeatureCollection","features":[']
    first = True
    for feature in queries.stream_features(session, principal, filters):
        parts.append(feature if first else "," + feature)
        first = False
        if len(parts) >= CHUNK_ROWS:
            yield "\n".join(parts).encode()
            parts = []
    parts.append("]}\n")
    yield "\n".join(parts).encode()


def _cell(sheet: WriteOnlyWorksheet, value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        # Excel has no time zones: UTC, naive.
        return value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, str):
        # A workbook cannot hold control characters other than tab and line breaks (openpyxl
        # refuses the row): each is shown as U+FFFD, the CSV keeps the text as stored. Text is
        # always text: a venue name beginning with `=` must not become a formula in the
        # regulator's spreadsheet.
        cell = WriteOnlyCell(sheet, ILLEGAL_CHARACTERS_RE.sub("\ufffd", value))
        cell.data_type = "s"
        return cell
    return value


def xlsx_chunks(session: Session, principal: Principal, filters: Filters) -> Iterator[bytes]:
    """Rows go to openpyxl's write-only sheet (spooled to disk as they come); the workbook is
    then zipped into a temporary file and streamed, since a zip's directory comes last."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("compliance")
    try:
        sheet.append(FIELD_NAMES)
        for row in queries.stream_rows(session, principal, filters):
            record = export_record(row)
            sheet.append([_cell(sheet, record[name]) for name in FIELD_NAMES])
    except BaseException:
        _discard(sheet)
        raise
    with tempfile.TemporaryFile() as target:
        workbook.save(target)
        target.seek(0)
        while chunk := target.read(FILE_CHUNK_BYTES):
            yield chunk


def _discard(sheet: WriteOnlyWorksheet) -> None:
    """An export that failed before its workbook was saved (a statement over the timeout):
    openpyxl spools a write-only sheet to a temporary file that it removes on saving, else
    only when the process exits. Remove it now; a server would keep one per failed export."""
    writer = sheet._writer
    if writer is None:
        return
    sheet.close()
    writer.cleanup()
