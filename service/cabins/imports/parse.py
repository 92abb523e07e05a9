"""Reading an import body into records: CSV (UTF-8 with or without BOM, `,`, `;` or a tab
detected from the header line) or NDJSON (one cabin JSON object per line). Problems with the
file as a whole raise a `Problem`; problems with one record are yielded as that record's
errors."""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from service.cabins.imports.columns import (
    CellError,
    Column,
    columns_by_name,
    required_column_names,
    unflatten,
)
from service.errors import BadRequest, UnsupportedMediaType, ValidationFailed

CSV_TYPES = ("text/csv", "application/csv")
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")
SCHEMA_HINT = "see schemas/cabin-import.tableschema.json"


@dataclass
class Record:
    row: int
    data: dict[str, Any] | None
    errors: list[dict[str, Any]]


def media_kind(content_type: str | None) -> str:
    """'csv' or 'ndjson' for the request's Content-Type; 415 for anything else."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type in CSV_TYPES:
        return "csv"
    if media_type in NDJSON_TYPES:
        return "ndjson"
    raise UnsupportedMediaType(
        f"An import is text/csv or application/x-ndjson, not {media_type or 'no type'}.",
        errors=[{"field": "Content-Type", "reason": "must be text/csv or application/x-ndjson"}],
    )


# The character sets a CSV may declare (`text/csv; charset=…`), by Python's codec name: those
# spreadsheets and scripts write French text in. A file in another one is saved again as
# UTF-8; any Python codec would let in transforms (rot13, punycode) that are not charsets.
CHARSETS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8",
    "ascii": "US-ASCII",
    "cp1252": "windows-1252",
    "iso8859-1": "ISO-8859-1",
    "iso8859-15": "ISO-8859-15",
    "utf-16": "UTF-16",
    "utf-16-le": "UTF-16LE",
    "utf-16-be": "UTF-16BE",
}
READ_CHARSETS = "UTF-8, windows-1252, ISO-8859-1, ISO-8859-15, UTF-16 or US-ASCII"
# A byte-order mark says the encoding whatever the label says (WHATWG Encoding, "decode").
BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def declared_codec(content_type: str | None, kind: str) -> str | None:
    """The codec of the `charset` parameter of the request's Content-Type, None without one;
    415 for a charset the import does not read, and for NDJSON in anything but UTF-8 (JSON
    exchanged between systems is UTF-8, RFC 8259 §8.1). A 415 and not a 400: the charset is
    part of the media type the request declares (RFC 9110 §15.5.16)."""
    charset = None
    for parameter in (content_type or "").split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').strip()
    if charset is None:
        return None
    return charset_codec(charset, kind, CONTENT_TYPE)


@dataclass(frozen=True)
class Declaration:
    """Where a file's charset is declared, as a refusal names it: the request's Content-Type,
    or the command line's `--charset`."""

    field: str
    says: str  # "as its Content-Type says"
    written: str  # how the charset is written there, `{}` for the name
    utf8: str  # how to declare UTF-8 there
    example: str  # how to declare Excel's plain CSV there


CONTENT_TYPE = Declaration(
    "Content-Type",
    "its Content-Type",
    "charset={}",
    "send charset=utf-8 or no charset",
    "Content-Type: text/csv; charset=windows-1252",
)
COMMAND_LINE = Declaration(
    "--charset",
    "--charset",
    "{}",
    "give --charset utf-8 or none",
    "--charset windows-1252",
)


def charset_codec(charset: str, kind: str, declared: Declaration = CONTENT_TYPE) -> str:
    """The codec of a declared charset: a 415 naming where it was declared for a charset the
    import does not read, and for NDJSON in anything but UTF-8 (see `declared_codec`)."""
    said = declared.written.format(charset)
    try:
        codec: str | None = codecs.lookup(charset).name if charset else None
    except LookupError:
        codec = None
    if codec not in CHARSETS:
        raise UnsupportedMediaType(
            f"The import does not read text in charset={charset!r}: save the file as UTF-8.",
            errors=[
                {
                    "field": declared.field,
                    "reason": f"{said} is not a character set the import reads ({READ_CHARSETS})",
                }
            ],
        )
    if kind == "ndjson" and CHARSETS[codec] not in ("UTF-8", "US-ASCII"):
        raise UnsupportedMediaType(
            "NDJSON is UTF-8 text (RFC 8259): save the file as UTF-8.",
            errors=[
                {
                    "field": declared.field,
                    "reason": f"{said}: NDJSON is always UTF-8; {declared.utf8}",
                }
            ],
        )
    return codec


def undecodable_at(raw: bytes, exc: UnicodeDecodeError) -> str:
    """Where `raw` stops being text in the codec that raised `exc`, as a reason says it:
    `at byte 12 (line 2): byte 0xE9` (the byte counted from 0, the line from 1)."""
    line = raw.count(b"\n", 0, exc.start) + 1
    return f"at byte {exc.start} (line {line}): byte 0x{raw[exc.start]:02X}"


def to_utf8(
    body: bytes, codec: str | None, kind: str = "csv", declared: Declaration = CONTENT_TYPE
) -> bytes:
    """The body in UTF-8 (the rest of the import, COPY included, reads UTF-8): read in the
    codec its byte-order mark gives, whatever charset is declared or when none is, else in
    its declared codec. A body in UTF-8, or with no charset declared and no mark, is left as
    it is (`decode` reads it, or says where it is not UTF-8). NDJSON is UTF-8 whatever its
    mark says: a UTF-16 one is a 400."""
    marked = next((by_mark for bom, by_mark in BOMS if body.startswith(bom)), None)
    if marked is not None:
        codec = marked
    elif codec == "utf-16":
        # UTF-16 without a mark is big-endian (RFC 2781 §4.3); Python's codec would read it
        # in the machine's byte order, little-endian here.
        codec = "utf-16-be"
    if codec is None or CHARSETS[codec] == "UTF-8":
        return body
    if kind == "ndjson" and marked is not None:
        raise BadRequest(
            "NDJSON is UTF-8 text (RFC 8259): save the file as UTF-8.",
            errors=[
                {
                    "field": "body",
                    "reason": f"starts with a {CHARSETS[codec]} byte-order mark: NDJSON is"
                    " always UTF-8",
                }
            ],
        )
    try:
        text = body.decode(codec)
    except UnicodeDecodeError as exc:
        name = CHARSETS[codec]
        says = "its byte-order mark" if marked else declared.says
        raise BadRequest(
            f"The import is not {name} text, as {says} says: send the charset the file was"
            " saved in, or save it as UTF-8.",
            errors=[{"field": "body", "reason": f"not {name} {undecodable_at(body, exc)}"}],
        ) from None
    return text.removeprefix("\ufeff").encode()


def decode(body: bytes, declared: Declaration = CONTENT_TYPE) -> str:
    """UTF-8, with or without a byte-order mark; else a 400 saying how to declare the charset
    the file was saved in (`declared`: where)."""
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        byte = body[exc.start]
        # Excel's plain "CSV" on Windows writes Windows-1252: é is the single byte 0xE9.
        legacy = bytes([byte]).decode("cp1252", errors="replace")
        seen = f", {legacy!r} in Windows-1252" if legacy.isprintable() and byte >= 0x80 else ""
        raise BadRequest(
            "The import is not UTF-8 text: save the file as UTF-8 (in Excel, the type"
            ' "CSV UTF-8"; in LibreOffice, the character set "Unicode (UTF-8)"), or declare'
            f" the character set it was saved in (Excel's plain CSV: {declared.example}).",
            errors=[
                {
                    "field": "body",
                    "reason": f"not UTF-8 {undecodable_at(body, exc)}{seen}",
                }
            ],
        ) from None


def count_rows(body: bytes) -> int:
    """An upper bound on the number of records, without parsing (lines that are not blank)."""
    return sum(1 for line in body.splitlines() if line.strip())


DELIMITERS = (",", ";", "\t")  # the first wins a tie


def detect_delimiter(header_line: str) -> str:
    """The separator the header line uses most: `,`, `;` (spreadsheets in French) or a tab
    (Excel's "Unicode text", a script's TSV)."""
    return max(DELIMITERS, key=header_line.count)


def _csv_header(names: list[str]) -> list[Column | None]:
    known = columns_by_name()
    errors = []
    seen: dict[str, int] = {}  # name: its first position
    header: list[Column | None] = []
    for position, raw in enumerate(names, start=1):
        name = raw.strip()
        if not name:
            # No name: a spreadsheet's trailing separators (`;;`) after a column once used.
            # Its cells must be empty (`read_csv` refuses a value under it).
            header.append(None)
            continue
        first = seen.setdefault(name, position)
        if first != position:
            errors.append(
                {
                    "field": name,
                    "reason": f"column {position} repeats column {first}; keep one of them",
                }
            )
        if name not in known:
            close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.8)
            hint = f"did you mean {close[0]}? " if close else ""
            errors.append({"field": name, "reason": f"unknown column; {hint}{SCHEMA_HINT}"})
            header.append(None)
        else:
            header.append(known[name])
    missing = [n for n in required_column_names() if n not in seen]
    errors += [
        {"field": n, "reason": f"required column is missing; {SCHEMA_HINT}"} for n in missing
    ]
    if errors:
        raise ValidationFailed("The CSV header does not match the import columns.", errors=errors)
    return header


def _readable(reader: Any) -> Iterator[list[str]]:
    """The reader's rows; what the csv module cannot read at all (a cell over its 131,072
    characters, as an unclosed quote makes one) is the file's problem, with its line."""
    try:
        yield from reader
    except csv.Error as exc:
        raise ValidationFailed(
            f"The CSV cannot be read past line {reader.line_num}.",
            errors=[{"field": "body", "reason": f"line {reader.line_num}: {exc}"}],
        ) from None


def read_csv(text: str) -> Iterator[Record]:
    if not text.strip():
        return  # no header, no row: `read_records` says the file has no data row
    first_line = text.split("\n", 1)[0]
    if not first_line.strip():
        raise ValidationFailed(
            "The CSV has no header line.",
            errors=[
                {"field": "body", "reason": f"the first line must name the columns; {SCHEMA_HINT}"}
            ],
        )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=detect_delimiter(first_line))
    lines = _readable(reader)
    header = _csv_header(next(lines))
    width = len(header)
    row = 0
    for cells in lines:
        # A blank row is skipped but keeps its number: row n is the n-th row under the header,
        # as the spreadsheet the file came from shows it.
        row += 1
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != width:
            yield Record(
                row,
                None,
                [{"field": "row", "reason": f"{len(cells)} cells where the header has {width}"}],
            )
            continue
        unnamed = [
            {
                "field": f"column {position}",
                "reason": "holds a value but has no name in the header line",
            }
            for position, (column, cell) in enumerate(zip(header, cells, strict=True), start=1)
            if column is None and cell.strip()
        ]
        if unnamed:
            yield Record(row, None, unnamed)
            continue
        try:
            yield Record(row, unflatten(header, cells), [])
        except CellError as exc:
            yield Record(row, None, [{"field": exc.field, "reason": exc.reason}])


def read_ndjson(text: str) -> Iterator[Record]:
    # Lines end at LF (CRLF too: JSON reads the CR as white space), not at every character
    # str.splitlines() breaks on: U+2028 or U+0085 inside a string is part of the value. A
    # record's row is its line number: a blank line is skipped but counted.
    for row, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            try:
                # What the JSON API reads too (Python's parser): a `\ud800` escape, which
                # orjson refuses, is then refused by the record's checks naming its field.
                value = json.loads(line)
            except ValueError:
                yield Record(row, None, [{"field": "body", "reason": f"not valid JSON: {exc}"}])
                continue
        if not isinstance(value, dict):
            yield Record(
                row, None, [{"field": "body", "reason": "each line must be a JSON object"}]
            )
            continue
        yield Record(row, value, [])


def no_data_row(text: str) -> ValidationFailed:
    """The problem of a file that holds no record: an upload with nothing to import is a
    mistake (the wrong file, or a template saved before its rows were pasted), not an
    import of 0 rows."""
    if not text:
        reason = "the file is empty"
    elif not text.strip():
        reason = "every line of the file is blank"
    else:
        reason = "the file has its header line and no data row under it"
    return ValidationFailed(
        "The import has no data row; nothing was written.",
        errors=[{"field": "body", "reason": f"{reason}; {SCHEMA_HINT}"}],
    )


def check_file(body: bytes, kind: str) -> None:
    """The problems of the file as a whole (not UTF-8, a CSV header that does not match the
    columns, no data row), raised as `read_records` raises them for the importer, without
    reading the records: a job answers them at once rather than as a failed job."""
    # The header is checked before the first record, and a file without one raises: a bad
    # row is only yielded (the job reports it).
    next(read_records(body, kind), None)


def read_records(body: bytes, kind: str) -> Iterator[Record]:
    """The file's records, CSV or NDJSON; the file's own problems raised (not UTF-8, a CSV
    header that does not match, and, once read to its end, no record at all)."""
    return records_in(decode(body), kind)


def records_in(text: str, kind: str) -> Iterator[Record]:
    """The records of a file already decoded (`read_records` without the decoding)."""
    return _at_least_one(read_csv(text) if kind == "csv" else read_ndjson(text), text)


def _at_least_one(records: Iterator[Record], text: str) -> Iterator[Record]:
    empty = True
    for record in records:
        empty = False
        yield record
    if empty:
        raise no_data_row(text)
