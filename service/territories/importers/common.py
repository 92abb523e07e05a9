"""What every importer shares: the row-numbered report, the rejection that rolls the whole
import back, line decoding, staging with COPY and the checks of codes against the current
admin layers."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

INSEE_RE = re.compile(r"^(\d{5}|2[AB]\d{3})$")
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


class ImportRejected(Exception):
    """The file has bad rows: nothing was written."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} bad row(s)")
        self.errors = sorted(errors, key=lambda e: (e.row, e.field))


class ImportArgumentError(ValueError):
    """A bad option (région, vintage, date) rather than a bad row."""


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


def read_table(
    data: bytes, required: Mapping[str, tuple[str, ...]], errors: list[RowError]
) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of a UTF-8 CSV with a header (`;` or `,`), keyed by the canonical column names in
    `required` (each with its accepted aliases)."""
    lines = list(decode_lines(data, "utf-8", errors))
    if not lines:
        errors.append(RowError(1, "file", "the file is empty"))
        return
    header_row, header_text = lines[0]
    delimiter = ";" if header_text.count(";") >= header_text.count(",") else ","
    header = [h.strip().lower() for h in next(csv.reader([header_text], delimiter=delimiter))]
    positions: dict[str, int] = {}
    for name, aliases in required.items():
        found = [i for i, h in enumerate(header) if h in (name, *aliases)]
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
    for number, line in lines[1:]:
        try:
            values = next(csv.reader([line], delimiter=delimiter, strict=True))
        except csv.Error as exc:
            errors.append(RowError(number, "line", f"malformed CSV: {exc}"))
            continue
        if len(values) != len(header):
            errors.append(
                RowError(number, "line", f"{len(values)} fields, the header has {len(header)}")
            )
            continue
        yield number, {name: values[i].strip() for name, i in positions.items()}


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
            " (SELECT id FROM layer WHERE kind = 'commune' AND is_current))"
        )
    ).all()
    return [RowError(r, report_as, f"unknown commune code {code}") for r, code in rows]


def region_exists(conn: Connection, code: str) -> bool:
    return bool(
        conn.execute(
            text(
                "SELECT 1 FROM region WHERE code = :code AND layer_id IN"
                " (SELECT id FROM layer WHERE kind = 'region' AND is_current)"
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
