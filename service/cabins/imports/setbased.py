"""The set-based path of a CSV import: the raw file is COPYed as it is into a temporary table
of text columns, and every type-level and record-level check runs as SQL over the whole table
— one statement generated from the import columns (themselves derived from `CabinCreate`, as
`schemas/cabin-import.tableschema.json` is). Python sees only the DISTINCT values of what SQL
cannot check (OSM opening hours, URLs, the JSON cells of care links and optional services).

SQL only certifies rows: a row it accepts is one the registry's own validation (Pydantic and
`check_record`) accepts, staged with exactly the values that validation would store. Every
other row — a bad one, or one outside the plain forms SQL recognises (a number in exponent
form, a La Poste SIRET, a reference repeated in the file or already held by the operator, …) —
is read back and goes through the Python checks, so its report names the same field and
reason as a single write would. A file COPY cannot read the way Python's `csv` module does
(a quote inside an unquoted cell, blank lines, a short row) is read entirely by Python."""

from __future__ import annotations

import csv
import math
import re
import sys
import uuid
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

import orjson
import psycopg
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy import text
from sqlalchemy.orm import Session

from service.audit.trail import orjson_writes_as_json
from service.cabins.imports import staging
from service.cabins.imports.audit_bulk import CanonicalJson
from service.cabins.imports.columns import (
    EXCLUDED,
    FALSE_WORDS,
    LIST_SEPARATOR,
    TRUE_WORDS,
    CellError,
    Column,
    import_columns,
    unflatten,
)
from service.cabins.imports.parse import Record, _csv_header, detect_delimiter
from service.cabins.schemas import CabinCreate
from service.cabins.service import REFERENCE_ALPHABET
from service.cabins.validation import (
    FINESS_PATTERN,
    care_link_problems,
    field_adapter,
    model_of,
    opening_hours_problem,
)
from service.cabins.vocabulary import CONFIRMED_BLOCKS

RAW = "import_raw"
TYPED = "import_typed"
CHECKED = "import_checked"
PYVALS = "import_pyvals"
JSON = "import_json"

# What Python's str.strip() removes, as a PostgreSQL literal for btrim().
_WS_CHARS = "".join(ch for ch in map(chr, range(sys.maxunicode + 1)) if ch.isspace())
WS = "U&'" + "".join(f"\\{ord(ch):04X}" for ch in _WS_CHARS) + "'"
SIRET_COLUMNS = ("venue.siret", "provider.siret")
OPENING_HOURS_COLUMNS = ("opening_hours", "siting.staff_hours")
PAST_DATES = (
    "siting.responsible_person.trained_on_date",
    "declarations.ars_declaration_date",
    "declarations.cpam_informed_date",
    "declarations.cpts_informed_date",
    "declarations.concertation.date",
)
_PLAIN_NUMBER = r"^-?[0-9]{1,12}([.,][0-9]{1,20})?$"
_PLAIN_LIST = r"^[a-z0-9_]+(\|[a-z0-9_]+)*$"
_PLAIN_DATE = r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _array(values: tuple[str, ...] | list[str]) -> str:
    return "ARRAY[" + ", ".join(_lit(v) for v in values) + "]::text[]"


def _run(session: Session, statement: str) -> list[tuple[Any, ...]]:
    """Run generated SQL on the session's connection as it is (no parameter markers: its
    regular expressions hold colons and percent signs); the rows it returns, if any."""
    connection = session.connection().connection.driver_connection
    assert connection is not None
    with connection.cursor() as cursor:
        cursor.execute(statement.encode())
        return cursor.fetchall() if cursor.description else []


def _date_literal(value: date) -> str:
    return f"DATE '{value.isoformat()}'"


def _uuid_literal(value: uuid.UUID) -> str:
    return f"'{uuid.UUID(str(value))}'::uuid"


# --- the model's shape: which objects always exist, which fields are required -------------


@dataclass(frozen=True)
class Node:
    path: tuple[str, ...]
    always: bool  # exists whenever its parent does (required, or a default object)
    required: tuple[str, ...]  # field names required when the object exists
    list_defaults: tuple[str, ...]  # list fields that dump as [] when absent
    children: tuple[str, ...]  # field names, in model order


@lru_cache(maxsize=1)
def nodes() -> dict[tuple[str, ...], Node]:
    found: dict[tuple[str, ...], Node] = {}

    def walk(model: type[BaseModel], path: tuple[str, ...], always: bool) -> None:
        required, defaults, children = [], [], []
        for name, info in model.model_fields.items():
            if not path and name in EXCLUDED:
                continue
            children.append(name)
            if info.is_required():
                required.append(name)
            sub = model_of(info.annotation)
            if sub is not None:
                walk(sub, (*path, name), info.is_required() or info.default_factory is not None)
            elif info.default_factory is list:
                defaults.append(name)
        found[path] = Node(path, always, tuple(required), tuple(defaults), tuple(children))

    walk(CabinCreate, (), True)
    return found


def _adapter(name: str) -> TypeAdapter[Any]:
    """The validator of one column's field (`name` dotted as the CSV header writes it)."""
    *parents, last = name.split(".")
    model: type[BaseModel] | None = CabinCreate
    for part in parents:
        assert model is not None
        model = model_of(model.model_fields[part].annotation)
    assert model is not None
    return field_adapter(model, last)


# --- Python checks over distinct values -----------------------------------------------------


def _python_value(column: Column, raw: str) -> Any:
    """The JSON value the registry stores for this cell, or raise ValueError when the
    registry's validation would refuse it."""
    if column.kind == "json":
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ValueError(raw) from None
        if not isinstance(value, list):
            raise ValueError(raw)
    else:
        value = raw
    try:
        parsed = _adapter(column.name).validate_python(value)
    except ValidationError:
        raise ValueError(raw) from None
    if column.name in OPENING_HOURS_COLUMNS and opening_hours_problem(parsed):
        raise ValueError(raw)
    if column.name == "care_links" and care_link_problems(parsed):
        raise ValueError(raw)
    result: Any = (
        [
            item.model_dump(mode="json", exclude_none=True) if isinstance(item, BaseModel) else item
            for item in parsed
        ]
        if isinstance(parsed, list)
        else str(parsed)
    )
    if not orjson_writes_as_json(result) or _negative_zero(result):
        # Written differently by orjson and json, or changed by jsonb: left to Python.
        raise ValueError(raw)
    return result


def _negative_zero(value: Any) -> bool:
    if isinstance(value, float):
        return value == 0 and math.copysign(1.0, value) < 0
    if isinstance(value, list):
        return any(_negative_zero(item) for item in value)
    if isinstance(value, dict):
        return any(_negative_zero(item) for item in value.values())
    return False


def python_checked(column: Column) -> bool:
    return column.kind == "json" or column.fmt == "uri" or column.name in OPENING_HOURS_COLUMNS


# --- the SQL over the raw cells ----------------------------------------------------------


class Sql:
    """The expressions of one import, for the header it came with: `v(name)` is the cell of a
    column stripped as Python strips it (NULL when empty or when the header lacks it)."""

    def __init__(self, header: list[Column]) -> None:
        self.header = header
        self.position = {c.name: i for i, c in enumerate(header, start=1)}
        self.columns = {c.name: c for c in import_columns()}

    def v(self, name: str) -> str:
        i = self.position.get(name)
        return f"t.v{i}" if i else "NULL::text"

    def present(self, name: str) -> str:
        return f"({self.v(name)} IS NOT NULL)" if name in self.position else "false"

    def python_joins(self) -> str:
        """The joins to the distinct values checked in Python (`p<i>.ok`, `p<i>.value`)."""
        return " ".join(
            f"LEFT JOIN {PYVALS} p{i} ON p{i}.col = {i} AND p{i}.raw = t.v{i}"
            for i, column in enumerate(self.header, start=1)
            if python_checked(column)
        )

    def p_ok(self, name: str) -> str:
        return f"p{self.position[name]}.ok"

    def p_json(self, name: str) -> str:
        return f"p{self.position[name]}.value"

    # typed values, NULL when absent; only used where the cell is known to be valid, or
    # inside a CASE that has checked it
    def num(self, name: str) -> str:
        return f"replace({self.v(name)}, ',', '.')::float8"

    def safe_num(self, name: str) -> str:
        v = self.v(name)
        return f"(CASE WHEN {v} ~ '{_PLAIN_NUMBER}' THEN replace({v}, ',', '.')::float8 END)"

    def safe_date(self, name: str) -> str:
        v = self.v(name)
        return f"(CASE WHEN {self._valid_date(v)} THEN {v}::date END)"

    def items(self, name: str) -> str:
        """A list cell as an array; certified only in its plain form (`a|b`, no spaces nor
        empty items), any other form goes to Python."""
        return f"string_to_array({self.v(name)}, {_lit(LIST_SEPARATOR)})"

    @staticmethod
    def _valid_date(v: str) -> str:
        return (
            f"(CASE WHEN {v} ~ '{_PLAIN_DATE}' THEN substr({v}, 9, 2)::int <= extract(day FROM"
            f" make_date(substr({v}, 1, 4)::int, substr({v}, 6, 2)::int, 1)"
            " + interval '1 month - 1 day') ELSE false END)"
        )

    def valid(self, column: Column) -> str:
        """True when the cell (present) is a value the registry accepts in that column."""
        name, v = column.name, self.v(column.name)
        if python_checked(column):
            return self.p_ok(name)
        c = column.constraints
        if column.kind == "string":
            conds = []
            if "minLength" in c:
                conds.append(f"char_length({v}) >= {int(c['minLength'])}")
            if "maxLength" in c:
                conds.append(f"char_length({v}) <= {int(c['maxLength'])}")
            if "pattern" in c:  # the formats, and the text guard (no control character)
                conds.append(f"{v} ~ {_lit(c['pattern'])}")
            if "enum" in c:
                conds.append(f"{v} = ANY({_array(list(c['enum']))})")
            if name in SIRET_COLUMNS:
                conds.append(f"{v} ~ '^[0-9]{{14}}$' AND {v} NOT LIKE '356000000%'")
                conds.append(f"{_luhn(v, 14)} AND {_luhn(v, 9)}")
            if name.endswith("finess"):
                conds.append(f"{v} ~ {_lit(FINESS_PATTERN)}")  # check_record's
            if not conds:
                return "true"
            # Luhn on a non-digit string would fail the cast: the pattern comes first.
            return (
                "(CASE WHEN "
                + " AND ".join(conds[:-1] or ["true"])
                + f" THEN {conds[-1]}"
                + (" ELSE false END)")
            )
        if column.kind == "number":
            low, high = c.get("minimum"), c.get("maximum")
            f = f"({self.num(name)})"
            # Not -0 nor a value Python would write in exponent form.
            checks = [f"({f} = 0 OR abs({f}) >= 0.0001)", f"NOT ({f} = 0 AND {v} LIKE '-%')"]
            if low is not None:
                checks.append(f"{f} >= {low}")
            if high is not None:
                checks.append(f"{f} <= {high}")
            cond = " AND ".join(checks)
            return f"(CASE WHEN {v} ~ '{_PLAIN_NUMBER}' THEN {cond} ELSE false END)"
        if column.kind == "integer":
            low, high = c.get("minimum"), c.get("maximum")
            bounds = []
            if low is not None:
                bounds.append(f"{v}::int >= {low}")
            if high is not None:
                bounds.append(f"{v}::int <= {high}")
            cond = " AND ".join(bounds) or "true"
            return f"(CASE WHEN {v} ~ '^[0-9]{{1,9}}$' THEN {cond} ELSE false END)"
        if column.kind == "boolean":
            return f"(lower({v}) = ANY({_array(TRUE_WORDS + FALSE_WORDS)}))"
        if column.kind == "date":
            return self._valid_date(v)
        if column.kind == "list":
            items = self.items(name)
            conds = [f"{items} <@ {_array(column.item_enum or ())}"]
            if "minItems" in c:
                conds.append(f"cardinality({items}) >= {int(c['minItems'])}")
            if "maxItems" in c:
                conds.append(f"cardinality({items}) <= {int(c['maxItems'])}")
            return f"(CASE WHEN {v} ~ '{_PLAIN_LIST}' THEN {' AND '.join(conds)} ELSE false END)"
        raise AssertionError(f"no SQL check for {name} ({column.kind})")

    def json(self, column: Column) -> str:
        """The column's value as JSON text (the `j` columns computed once by `stage`)."""
        if column.name not in self.position:
            return "NULL::text"
        return f"j.j{self.position[column.name]}"

    def json_value(self, column: Column) -> str:
        """The column's value as JSON text, as the registry dumps it; NULL when absent.
        (Text, not jsonb: building jsonb value by value costs far more than one parse.)"""
        name, v = column.name, self.v(column.name)
        if name not in self.position:
            return "NULL::text"
        if python_checked(column):
            return self.p_json(name)
        if column.kind == "number":
            x = f"({self.num(name)})::text"
            return f"(CASE WHEN {x} ~ '^-?[0-9]+$' THEN {x} || '.0' ELSE {x} END)"
        if column.kind == "integer":
            return f"({v}::int)::text"
        if column.kind == "boolean":
            return (
                f"(CASE WHEN {v} IS NULL THEN NULL WHEN lower({v}) = ANY({_array(TRUE_WORDS)})"
                " THEN 'true' ELSE 'false' END)"
            )
        if column.kind == "list":
            return f"""('["' || replace({v}, '|', '","') || '"]')"""
        return f"to_json({v})::text"

    # objects
    def under(self, path: tuple[str, ...]) -> list[str]:
        prefix = ".".join(path) + "." if path else ""
        return [n for n in self.position if n.startswith(prefix)]

    def exists(self, path: tuple[str, ...], in_json: bool = False) -> str:
        """Whether the validated record has this object (as Pydantic builds it), from the
        cells (`t`) or, for certified rows, from their JSON values (`j`)."""
        if not path:
            return "true"
        node = nodes()[path]
        if node.always:
            return self.exists(path[:-1], in_json)
        if in_json:
            present = [f"(j.j{self.position[n]} IS NOT NULL)" for n in self.under(path)]
        else:
            present = [self.present(n) for n in self.under(path)]
        return "(" + (" OR ".join(present) or "false") + ")"

    def leaf_json(self, path: tuple[str, ...]) -> str:
        name = ".".join(path)
        node = nodes()[path[:-1]]
        value = self.json(self.columns[name])
        if path[-1] in node.list_defaults:
            return f"COALESCE({value}, '[]')"
        return value

    def object_json(self, path: tuple[str, ...]) -> str:
        """The object as `model_dump(mode="json", exclude_none=True)` gives it, as JSON
        text; NULL when the record does not have it."""
        node = nodes()[path]
        pairs = []
        for name in node.children:
            child = (*path, name)
            value = self.object_json(child) if child in nodes() else self.leaf_json(child)
            pairs.append(f"'\"{name}\":' || {value}")
        body = _json_object(pairs)
        if node.always:
            return body
        return f"(CASE WHEN {self.exists(path, in_json=True)} THEN {body} END)"

    def create_diff(self, head: dict[str, str]) -> str:
        """`records.flat_diff(None, record)` — `{path: [null, value]}` for every leaf it has, and
        the `head` entries (path: JSON text expression) — as the canonical JSON text the
        audit hash reads (`json.dumps(sort_keys=True, separators=(",", ":"),
        ensure_ascii=False)`): keys in code-point order, no spaces, values written as Python
        writes them (certified numbers are plain decimals, see `valid`)."""
        entries = dict(head)
        for path, node in nodes().items():
            for name in node.children:
                child = (*path, name)
                if child in nodes():
                    continue
                value = self.leaf_json(child)
                if name in node.list_defaults and path:
                    value = f"(CASE WHEN {self.exists(path, in_json=True)} THEN {value} END)"
                entries[".".join(child)] = value
        pairs = [
            f"'{orjson.dumps(key).decode()}:[null,' || {entries[key]} || ']'"
            for key in sorted(entries)
        ]
        return _json_object(pairs)

    def checks(self, today_param: str) -> list[str]:
        """Every condition a certified row meets (each one non-null)."""
        conds: list[str] = []
        for column in self.header:
            conds.append(f"({self.v(column.name)} IS NULL OR {self.valid(column)})")
        for path, node in nodes().items():
            for name in node.required:
                if (*path, name) in nodes():
                    continue
                full = ".".join((*path, name))
                conds.append(f"(NOT {self.exists(path)} OR {self.present(full)})")
        p = self.present
        conds.append(f"NOT ({self.v('venue.kind')} = 'autre' AND NOT {p('venue.description')})")
        start = self.safe_date("provider.agrement_start_date")
        end = self.safe_date("provider.agrement_end_date")
        conds.append(f"NOT COALESCE({end} < {start}, false)")
        conds.append(f"NOT COALESCE({start} > {today_param}, false)")
        for name in PAST_DATES:
            conds.append(f"NOT COALESCE({self.safe_date(name)} > {today_param}, false)")
        low = self.safe_num("accessibility.controls_height_min_cm")
        high = self.safe_num("accessibility.controls_height_max_cm")
        conds.append(f"NOT COALESCE({low} > {high}, false)")
        plain = f"lower({self.v('accessibility.entree_plain_pied')}) = ANY({_array(TRUE_WORDS)})"
        threshold = self.safe_num("accessibility.threshold_height_cm")
        conds.append(f"NOT COALESCE({plain} AND {threshold} > 4, false)")
        conds.append(
            f"NOT ({p('accessibility.ramp_length_cm')} AND NOT {p('accessibility.ramp_slope_pct')})"
        )
        return [f"COALESCE({c}, false)" for c in conds]


def _json_object(pairs: list[str]) -> str:
    """A JSON object from `'"key":' || value` pairs (NULL pairs left out); concat_ws takes at
    most 100 arguments, so longer lists go in chunks."""
    if not pairs:
        return "'{}'"
    chunks = [pairs[i : i + 60] for i in range(0, len(pairs), 60)]
    if len(chunks) == 1:
        return f"('{{' || concat_ws(',', {', '.join(pairs)}) || '}}')"
    inner = ", ".join(f"NULLIF(concat_ws(',', {', '.join(chunk)}), '')" for chunk in chunks)
    return f"('{{' || concat_ws(',', {inner}) || '}}')"


# --- reading the file ------------------------------------------------------------------------


@dataclass
class Plan:
    header: list[Column]
    delimiter: str
    data: bytes  # the file as COPY reads it (no BOM)
    sql: Sql
    # Positions (from 1) of the file's columns with no name (a spreadsheet's trailing `;;`):
    # COPYed aside, and a value under one sends the file to the Python reader (its row's error).
    unnamed: tuple[int, ...] = ()


_END_OF_DATA = re.compile(r"^\\\.\r?$", re.MULTILINE)
_QUOTED = re.compile(r'"[^"]*(?:""[^"]*)*"')


def _quotes_agree(body: str, delimiter: str) -> bool:
    """Whether every quote opens or closes a whole quoted cell. A quote inside an unquoted
    cell is literal to Python's csv module but opens a quoted section for COPY."""
    bounds = (delimiter, "\n", "\r")
    covered = 0
    end = len(body)
    for match in _QUOTED.finditer(body):
        start, stop = match.span()
        if start > 0 and body[start - 1] not in bounds:
            return False
        if stop < end and body[stop] not in bounds:
            return False
        covered += stop - start - len(match.group().replace('"', ""))
    return covered == body.count('"')


def plan(text_body: str) -> Plan | None:
    """Whether COPY reads this file exactly as Python's csv module does; None when it might
    not (the caller then parses it in Python). Raises the header's problems, as parse does."""
    first_line = text_body.split("\n", 1)[0]
    if not first_line.strip() or len(first_line) > csv.field_size_limit():
        return None  # the Python reader says what is wrong (a header cell over csv's limit)
    if first_line.count('"') % 2:
        return None  # a quoted header cell running over lines: not the line COPY skips
    delimiter = detect_delimiter(first_line)
    names = next(csv.reader([first_line.rstrip("\r")], delimiter=delimiter))
    if any('"' in name for name in names):
        return None  # a quote inside a header cell: the Python reader says what is wrong
    # A quoted header (a spreadsheet's "quote all text cells") is read as Python reads it;
    # `_quotes_agree` below holds COPY to the same reading of every quote.
    header = _csv_header(names)
    if "\x00" in text_body or _END_OF_DATA.search(text_body):
        return None
    if not _quotes_agree(text_body, delimiter):
        return None
    body = text_body.rstrip("\r\n")
    rest = body.split("\n", 1)
    if len(rest) < 2 or not rest[1].strip():
        return None  # no rows: the Python reader says the file has no data row
    columns = [c for c in header if c is not None]
    unnamed = tuple(i for i, c in enumerate(header, start=1) if c is None)
    # The last line ends as the others do: COPY refuses a file whose line endings change
    # (Excel's CRLF then a bare LF).
    ending = "\r\n" if first_line.endswith("\r") else "\n"
    return Plan(columns, delimiter, (body + ending).encode(), Sql(columns), unnamed)


def _luhn(v: str, length: int) -> str:
    """The Luhn key of the first `length` digits of `v` (known to be digits), unrolled."""
    terms = []
    for i in range(1, length + 1):
        d = f"(get_byte({v}::bytea, {i - 1}) - 48)"  # digits only: the pattern came first
        terms.append(f"({d} * 2) / 10 + ({d} * 2) % 10" if (length - i) % 2 == 1 else d)
    return f"(({' + '.join(terms)}) % 10 = 0)"


def load(session: Session, plan_: Plan) -> bool:
    """COPY the file into the raw table; False (and nothing left behind) when COPY refuses
    it — a row of another width, a blank line — which the Python reader reports row by row."""
    aside = [f"u{k}" for k in range(1, len(plan_.unnamed) + 1)]
    cells = ", ".join(
        [f"c{i} text" for i in range(1, len(plan_.header) + 1)] + [f"{u} text" for u in aside]
    )
    session.execute(text(f"DROP TABLE IF EXISTS {RAW}, {TYPED}, {PYVALS}, {CHECKED}, {JSON}"))
    session.execute(
        text(
            f"CREATE TEMPORARY TABLE {RAW} (row_no integer GENERATED ALWAYS AS IDENTITY,"
            f" {cells}) ON COMMIT DROP"
        )
    )
    connection = session.connection().connection.driver_connection
    assert connection is not None
    named = iter(f"c{i}" for i in range(1, len(plan_.header) + 1))
    unnamed = iter(aside)
    width = len(plan_.header) + len(aside)
    names = ", ".join(next(unnamed if i in plan_.unnamed else named) for i in range(1, width + 1))
    with connection.cursor() as cursor:
        cursor.execute("SAVEPOINT import_raw_copy")
        try:
            with cursor.copy(
                f"COPY {RAW} ({names}) FROM STDIN WITH (FORMAT csv, HEADER true,"
                f" DELIMITER {_lit(plan_.delimiter)})"
            ) as copy:
                copy.write(plan_.data)
        except psycopg.errors.DataError:
            cursor.execute("ROLLBACK TO SAVEPOINT import_raw_copy")
            session.execute(text(f"DROP TABLE IF EXISTS {RAW}"))
            return False
        cursor.execute("RELEASE SAVEPOINT import_raw_copy")
    filled = " OR ".join(f"btrim({u}, {WS}) <> ''" for u in aside)
    if aside and _run(session, f"SELECT 1 FROM {RAW} WHERE {filled} LIMIT 1"):
        # A value under a column with no name: the Python reader makes it its row's error.
        session.execute(text(f"DROP TABLE IF EXISTS {RAW}"))
        return False
    sql = plan_.sql
    trimmed = ", ".join(
        f"NULLIF(btrim(c{i}, {WS}), '') AS v{i}" for i in range(1, len(plan_.header) + 1)
    )
    blank = " AND ".join(f"v{i} IS NULL" for i in range(1, len(plan_.header) + 1))
    _run(
        session,
        f"CREATE TEMPORARY TABLE {TYPED} ON COMMIT DROP AS SELECT row_no, {trimmed} FROM {RAW}",
    )
    _run(session, f"ALTER TABLE {TYPED} ADD PRIMARY KEY (row_no)")
    if _run(session, f"SELECT 1 FROM {TYPED} WHERE {blank} LIMIT 1"):
        # A row of blank cells, which the Python reader skips (keeping its number).
        session.execute(text(f"DROP TABLE IF EXISTS {RAW}, {TYPED}"))
        return False
    # Statistics for the joins only (each column analysed costs a sort of the sample).
    joined = ["row_no", sql.v("operator_reference").removeprefix("t.")] + [
        f"v{sql.position[c.name]}" for c in sql.header if python_checked(c)
    ]
    _run(session, f"ANALYZE {TYPED} ({', '.join(joined)})")
    _check_distinct_values(session, sql)
    return True


def _check_distinct_values(session: Session, sql: Sql) -> None:
    """The Python-only checks, once per distinct value, into a table the SQL joins."""
    session.execute(
        text(
            f"CREATE TEMPORARY TABLE {PYVALS} (col integer, raw text, ok boolean, value text)"
            " ON COMMIT DROP"
        )
    )
    connection = session.connection().connection.driver_connection
    assert connection is not None
    for column in sql.header:
        if not python_checked(column):
            continue
        i = sql.position[column.name]
        distinct = session.scalars(
            text(f"SELECT DISTINCT v{i} FROM {TYPED} WHERE v{i} IS NOT NULL")
        ).all()
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY {PYVALS} (col, raw, ok, value) FROM STDIN") as copy,
        ):
            for raw in distinct:
                try:
                    value = _python_value(column, raw)
                except ValueError:
                    copy.write_row((i, raw, False, None))
                else:
                    copy.write_row(
                        (i, raw, True, orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode())
                    )
    session.execute(text(f"ANALYZE {PYVALS}"))


@dataclass
class Classified:
    total: int
    certified: int
    python_rows: list[Record]


def classify(session: Session, plan_: Plan, operator_id: uuid.UUID, today: date) -> Classified:
    """Mark the rows SQL certifies; read back the others as records for the Python checks."""
    sql = plan_.sql
    ref = sql.v("operator_reference")
    checks = sql.checks(_date_literal(today))
    _run(session, f"DROP TABLE IF EXISTS {CHECKED}")
    _run(
        session,
        f"CREATE TEMPORARY TABLE {CHECKED} ON COMMIT DROP AS"
        f" SELECT t.row_no, {' AND '.join(checks)} AND d.ref IS NULL"
        f" AND NOT EXISTS (SELECT 1 FROM cabin c WHERE c.operator_id = {_uuid_literal(operator_id)}"
        f" AND c.operator_reference = {ref}) AS certified"
        f" FROM {TYPED} t {sql.python_joins()}"
        f" LEFT JOIN (SELECT {ref} AS ref FROM {TYPED} t GROUP BY 1 HAVING count(*) > 1) d"
        f" ON d.ref = {ref}",
    )
    _run(session, f"ALTER TABLE {CHECKED} ADD PRIMARY KEY (row_no)")
    _run(session, f"ANALYZE {CHECKED}")
    total = _run(session, f"SELECT count(*) FROM {TYPED}")[0][0]
    width = len(plan_.header)
    names = ", ".join(f"r.c{i}" for i in range(1, width + 1))
    rows = _run(
        session,
        f"SELECT r.row_no, {names} FROM {RAW} r JOIN {CHECKED} c USING (row_no)"
        " WHERE NOT c.certified ORDER BY r.row_no",
    )
    header: list[Column | None] = list(plan_.header)
    records = []
    for r in rows:
        cells = [c if c is not None else "" for c in r[1:]]
        try:
            records.append(Record(r[0], unflatten(header, cells), []))
        except CellError as exc:
            records.append(Record(r[0], None, [{"field": exc.field, "reason": exc.reason}]))
    return Classified(total, total - len(rows), records)


def stage(session: Session, plan_: Plan) -> None:
    """Insert the certified rows into the staging table, with the values `_staged_rows`
    would give them."""
    sql = plan_.sql
    v = sql.v

    def date_(name: str) -> str:
        return f"{v(name)}::date"

    values: dict[str, str] = {
        "address_number": v("location.address.number"),
        "address_street": v("location.address.street"),
        "address_postcode": v("location.address.postcode"),
        "address_commune_name": v("location.address.commune_name"),
        "declared_insee": v("location.declared_insee"),
        "venue_kind": v("venue.kind"),
        "venue_description": v("venue.description"),
        "venue_name": v("venue.name"),
        "venue_siret": v("venue.siret"),
        "venue_finess": v("venue.finess"),
        "venue_naf": v("venue.naf"),
        "venue_building_regime": v("venue.building_regime"),
        "venue_cabin_count": f"{v('venue.cabin_count')}::int",
        "ars_declaration_date": date_("declarations.ars_declaration_date"),
        "ars_declaration_reference": v("declarations.ars_declaration_reference"),
        "cpam_informed_date": date_("declarations.cpam_informed_date"),
        "cpts_informed_date": date_("declarations.cpts_informed_date"),
        "concertation_date": date_("declarations.concertation.date"),
        "concertation_parties": sql.items("declarations.concertation.parties"),
        "opening_hours": v("opening_hours"),
        "siting": f"{sql.object_json(('siting',))}::jsonb",
        "care_links": f"{sql.leaf_json(('care_links',))}::jsonb",
        "provider": f"{sql.object_json(('provider',))}::jsonb",
        "fees": f"{sql.object_json(('fees',))}::jsonb",
        "accessibility": f"{sql.object_json(('accessibility',))}::jsonb",
    }
    assert list(values) == [name for name, _ in staging.RECORD_COLUMNS]

    def given(block: str) -> str:
        names = [n for n in sql.position if n == block or n.startswith(block + ".")]
        return "(" + (" OR ".join(sql.present(n) for n in names) or "false") + ")"

    confirmed = (
        "array_remove(ARRAY["
        + ", ".join(f"CASE WHEN {given(b)} THEN {_lit(b)} END" for b in CONFIRMED_BLOCKS)
        + "]::text[], NULL)"
    )
    alphabet = _lit(REFERENCE_ALPHABET)
    reference = "'CAB-' || " + " || ".join(
        f"substr({alphabet}, ((k.bits >> {shift}) & 31)::int + 1, 1)" for shift in range(35, -1, -5)
    )
    json_columns = ", ".join(
        f"{sql.json_value(column)} AS j{sql.position[column.name]}" for column in sql.header
    )
    _run(session, f"DROP TABLE IF EXISTS {JSON}")
    _run(
        session,
        f"CREATE TEMPORARY TABLE {JSON} ON COMMIT DROP AS SELECT t.row_no, {json_columns}"
        f" FROM {TYPED} t JOIN {CHECKED} c USING (row_no) {sql.python_joins()}"
        " WHERE c.certified",
    )
    _run(session, f"ALTER TABLE {JSON} ADD PRIMARY KEY (row_no)")
    _run(
        session,
        f"INSERT INTO {staging.STAGING} ({', '.join(staging.STAGED_NAMES)})"
        f" SELECT t.row_no, {v('operator_reference')}, {reference},"
        f" {sql.num('location.lon')}, {sql.num('location.lat')},"
        f" {', '.join(values.values())}, {confirmed}"
        f" FROM {TYPED} t JOIN {JSON} j USING (row_no) CROSS JOIN LATERAL"
        " (SELECT (random() * 1099511627776)::bigint AS bits WHERE t.row_no IS NOT NULL) k",
    )
    _run(session, f"ANALYZE {JSON} (row_no)")


def created_events(session: Session, plan_: Plan) -> list[tuple[int, str, bool, CanonicalJson]]:
    """(row, cabin id, inserted, create diff as JSON text) of every certified row written:
    the diff built in SQL from the same cells, as `flat_diff(None, …)` builds it from the record."""
    rows = _run(
        session,
        "SELECT j.row_no, w.id::text, w.inserted, "
        + plan_.sql.create_diff(
            {"reference": "to_json(w.reference)::text", "status": """'"draft"'"""}
        )
        + f" FROM {staging.WRITTEN} w JOIN {staging.STAGING} s USING (operator_reference)"
        f" JOIN {JSON} j USING (row_no) ORDER BY j.row_no",
    )
    return [(r[0], r[1], r[2], CanonicalJson(r[3])) for r in rows]
