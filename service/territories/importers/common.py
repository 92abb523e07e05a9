"""What every importer shares: the row-numbered report, the rejection that rolls the whole
import back, line decoding, staging with COPY and the checks of codes against the current
admin layers."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from service.territories.codes import not_covered_reason
from service.territories.layers import current_layer_matching
from service.territories.queries import CURRENT_COMMUNE_LAYER_IDS, current_layer_ids_sql

SIREN_RE = re.compile(r"^\d{9}$")
VINTAGE_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,31}$")


@dataclass(frozen=True)
class RowError:
    row: int  # line number in the file, the first line being 1
    field: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "reason": self.reason}


@dataclass
class ImportResult:
    kind: str
    layer_id: int
    scope: str | None
    vintage: str
    row_count: int
    skipped: int = 0
    notes: list[str] = field(default_factory=list)
    unchanged: bool = False
    """The same file with the same options was already the current layer: nothing written."""


class ImportRejected(Exception):
    """The file has bad rows: nothing was written."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} bad row(s)")
        self.errors = sorted(errors, key=lambda e: (e.row, e.field))


class ImportArgumentError(ValueError):
    """A bad option (région, vintage, date) rather than a bad row."""


BOM = b"\xef\xbb\xbf"
# What a spreadsheet or an archive starts with, for a file that is not a CSV at all.
_NOT_CSV = (
    (b"PK\x03\x04", "a ZIP archive or an Excel workbook (.xlsx, .ods)"),
    (b"\xd0\xcf\x11\xe0", "an Excel 97-2003 workbook (.xls)"),
    (b"%PDF", "a PDF document"),
)
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x19\x1c-\x1f]")  # not \x1a: DOS end of file


def not_text(data: bytes) -> RowError | None:
    """A file that is not text at all (a workbook, an archive, binary data) is refused as a
    whole, rather than line by line with one error per undecodable byte."""
    for magic, what in _NOT_CSV:
        if data.startswith(magic):
            return RowError(1, "file", f"the file is {what}, not a CSV: export it as CSV first")
    # A NUL, or control characters by the dozen, is binary data; a stray vertical tab in an
    # address of a real extract is not.
    sample = data[: 1 << 16]
    controls = list(_CONTROL.finditer(sample))
    if b"\x00" in sample or len(controls) > max(8, len(sample) // 200):
        first = controls[0]  # a NUL is one of them
        row = data.count(b"\n", 0, first.start()) + 1
        return RowError(
            row,
            "file",
            f"byte {first.group()[0]:#04x} is a control character: the file is binary, not a CSV",
        )
    return None


def detect_encoding(data: bytes, default: str = "cp1252") -> str:
    """UTF-8 when the file says so (a BOM) or decodes as UTF-8 throughout; otherwise the
    encoding of spreadsheets saved on Windows (Windows-1252, a superset of Latin-1 for
    letters), where a line that is UTF-8 is still reported by `decode_lines`."""
    if data.startswith(BOM):
        return "utf-8"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return default
    return "utf-8"


def decode_lines(data: bytes, encoding: str, errors: list[RowError]) -> Iterator[tuple[int, str]]:
    """(line number, text) of each non-empty line; a line that does not decode is reported.
    With Windows-1252, a line that is valid UTF-8 with non-ASCII characters is reported too:
    decoding it as 1252 would silently turn `é` into `Ã©`."""
    if encoding == "utf-8" and data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        if encoding == "cp1252" and not raw.isascii():
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                pass
            else:
                errors.append(
                    RowError(number, "encoding", "the line is UTF-8, expected Windows-1252")
                )
                continue
        try:
            yield number, raw.decode(encoding)
        except UnicodeDecodeError as exc:
            name = "Windows-1252" if encoding == "cp1252" else "UTF-8"
            errors.append(
                RowError(number, "encoding", f"byte {raw[exc.start]:#04x} is not valid {name}")
            )


def column_key(name: str) -> str:
    """A header cell as a key: case, accents, spaces and punctuation ignored, so that
    `Code INSEE`, `code_insee` and `CODE-INSEE` are one column, `Zonage médecin` another."""
    folded = unicodedata.normalize("NFKD", name.strip().lstrip("\ufeff"))
    plain = "".join(c for c in folded if not unicodedata.combining(c)).lower()
    return re.sub(r"[^0-9a-z]+", "_", plain).strip("_")


def read_table(
    data: bytes, required: Mapping[str, tuple[str, ...]], errors: list[RowError]
) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of a CSV with a header (`;`, `,` or tab; UTF-8, else Windows-1252), keyed by the
    canonical column names in `required` (each with its accepted aliases, compared by
    `column_key`). Lines that are empty or hold only separators are skipped."""
    binary = not_text(data)
    if binary is not None:
        errors.append(binary)
        return
    lines = list(decode_lines(data, detect_encoding(data), errors))
    if not lines:
        if not errors:
            errors.append(RowError(1, "file", "the file is empty"))
        return
    header_row, header_text = lines[0]
    delimiter = max(";,\t", key=header_text.count)  # on a tie, the first: `;`
    header = [column_key(h) for h in next(csv.reader([header_text], delimiter=delimiter))]
    positions: dict[str, int] = {}
    for name, aliases in required.items():
        accepted = {column_key(a) for a in (name, *aliases)}
        found = [i for i, h in enumerate(header) if h in accepted]
        if not found:
            errors.append(
                RowError(
                    header_row, name, f"missing column (accepted: {', '.join((name, *aliases))})"
                )
            )
        else:
            positions[name] = found[0]
    if len(positions) < len(required):
        return
    for number, line in _records(lines[1:], delimiter, errors):
        try:
            values = next(csv.reader(io.StringIO(line), delimiter=delimiter, strict=True))
        except csv.Error as exc:
            errors.append(RowError(number, "line", f"malformed CSV: {exc}"))
            continue
        if not any(v.strip() for v in values):
            continue  # a spreadsheet's blank row, written as separators only
        if len(values) != len(header):
            errors.append(
                RowError(number, "line", f"{len(values)} fields, the header has {len(header)}")
            )
            continue
        yield number, {name: values[i].strip() for name, i in positions.items()}


def _open_quote(text: str, delimiter: str) -> bool:
    """The text ends inside a quoted cell (the csv module's strict mode says so)."""
    try:
        next(csv.reader(io.StringIO(text), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


def _records(
    lines: list[tuple[int, str]], delimiter: str, errors: list[RowError]
) -> Iterator[tuple[int, str]]:
    """(first line number, text) of each CSV record: a quoted cell may hold line breaks (a
    spreadsheet cell with one commune per line), so a line that ends inside a quoted cell
    takes the following lines until the cell closes."""
    pending: tuple[int, list[str]] | None = None
    for number, line in lines:
        if pending is None:
            if not _open_quote(line, delimiter):
                yield number, line
            else:
                pending = (number, [line])
            continue
        pending[1].append(line)
        # Inside a quoted cell every quote toggles (an escaped "" twice): an odd count closes.
        if line.count('"') % 2 == 1:
            yield pending[0], "\n".join(pending[1])
            pending = None
    if pending is not None:
        errors.append(
            RowError(pending[0], "line", "malformed CSV: a quote opened here is never closed")
        )


def stage(conn: Connection, table: str, columns: str, rows: Iterable[tuple[Any, ...]]) -> None:
    """A temporary staging table (dropped at commit or rollback) filled with COPY."""
    conn.execute(text(f"DROP TABLE IF EXISTS pg_temp.{table}"))
    conn.execute(text(f"CREATE TEMP TABLE {table} ({columns}) ON COMMIT DROP"))
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {table} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def unknown_communes(conn: Connection, table: str, report_as: str) -> list[RowError]:
    """Staged rows (`row`, `insee`) whose commune is not in the current commune layer,
    reported under the file's own column name."""
    field_name = "insee"
    rows = conn.execute(
        text(
            f"SELECT s.row, s.{field_name} FROM {table} s WHERE s.{field_name} IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM commune c WHERE c.insee = s."
            f"{field_name} AND c.layer_id IN"
            f" {CURRENT_COMMUNE_LAYER_IDS})"
        )
    ).all()
    return [
        RowError(r, report_as, not_covered_reason(code) or f"unknown commune code {code}")
        for r, code in rows
    ]


def outside_region(conn: Connection, table: str, report_as: str, region: str) -> list[RowError]:
    """Staged rows (`row`, `insee`) whose commune, in the current commune layer, lies in
    another région than `region`, reported under the file's own column name."""
    rows = conn.execute(
        text(
            f"SELECT s.row, s.insee, c.region FROM {table} s JOIN commune c"
            f" ON c.insee = s.insee AND c.layer_id IN {CURRENT_COMMUNE_LAYER_IDS}"
            " WHERE c.region <> :region"
        ),
        {"region": region},
    ).all()
    return [
        RowError(r, report_as, f"commune {code} is in région {other}, not {region}")
        for r, code, other in rows
    ]


def region_exists(conn: Connection, code: str) -> bool:
    return bool(
        conn.execute(
            text(
                "SELECT 1 FROM region WHERE code = :code AND layer_id IN"
                f" {current_layer_ids_sql('region')}"
            ),
            {"code": code},
        ).first()
    )


def check_vintage(vintage: str | None, reference_date: date | None) -> str:
    """The vintage given, else the year of the reference date, else today's date."""
    if vintage is None:
        vintage = (reference_date or date.today()).isoformat()
    if not VINTAGE_RE.match(vintage):
        raise ImportArgumentError(f"vintage {vintage!r}: 1 to 32 letters, digits, '.', '_' or '-'")
    return vintage


def already_current(
    conn: Connection, kind: str, scope: str | None, data: bytes, **columns: object
) -> ImportResult | None:
    """The current layer of this kind and scope when it was loaded from the same file (its
    sha256) with the same options (`columns`: vintage, reference…) after the current commune
    layer, which the import reads: importing that file again changes nothing. Asked before
    the file is parsed (under `lock_layer_loads`), so that this answer costs no parsing."""
    layer_id = current_layer_matching(
        conn, kind, scope, sha256=hashlib.sha256(data).hexdigest(), **columns
    )
    if layer_id is None:
        return None
    row = conn.execute(
        text(
            "SELECT vintage, row_count,"
            f" id > ALL {CURRENT_COMMUNE_LAYER_IDS} AS after_communes"
            " FROM layer WHERE id = :id"
        ),
        {"id": layer_id},
    ).one()
    if not row.after_communes:
        return None
    return ImportResult(kind, layer_id, scope, row.vintage, row.row_count, unchanged=True)
