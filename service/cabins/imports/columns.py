"""The flat columns of the CSV import, derived from the `CabinCreate` JSON Schema: one column
per scalar leaf, named by its dotted path (`accessibility.entree_largeur_mini`); lists of
values in one cell separated by `|`; lists of objects (`care_links`, `fees.optional_services`)
as a JSON array in one cell. `unflatten` turns a CSV record back into the nested shape that
`CabinCreate` validates."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson
from pydantic_core import ErrorDetails

from service.cabins.schemas import CabinCreate

LIST_SEPARATOR = "|"
# Not part of the import: an operator's cabins are always its own (admins pass ?operator_id=).
EXCLUDED = {"operator_id"}
_DECIMAL_COMMA = re.compile(r"^\s*-?[0-9]+,[0-9]+\s*$")
# The words of a boolean cell, read in any case: Pydantic's lax booleans, and the French
# ones spreadsheets write (Excel's and LibreOffice's TRUE is VRAI) and operators type. The
# Python reader, the set-based SQL (`setbased`) and the Table Schema all take them from here.
TRUE_WORDS = ("true", "1", "yes", "y", "on", "t", "vrai", "oui")
FALSE_WORDS = ("false", "0", "no", "n", "off", "f", "faux", "non")
_BOOLEANS = {**dict.fromkeys(TRUE_WORDS, "true"), **dict.fromkeys(FALSE_WORDS, "false")}
# Why a boolean cell is refused: the words above, in pairs (a test holds them together).
BOOLEAN_CELL_REASON = (
    "must be true or false, written true/false, 1/0, yes/no, y/n, on/off, t/f or, as French"
    " spreadsheets write them, VRAI/FAUX or oui/non, in any case"
)


@dataclass(frozen=True)
class Column:
    name: str
    path: tuple[str, ...]
    kind: str  # string | number | integer | boolean | date | list | json
    required: bool
    description: str | None = None
    constraints: dict[str, Any] = field(default_factory=dict)
    item_enum: tuple[str, ...] | None = None
    fmt: str | None = None


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return defs[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _non_null(schema: dict[str, Any], defs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The schema without its `null` alternative, and whether null was allowed."""
    if "anyOf" in schema:
        options = [o for o in schema["anyOf"] if o.get("type") != "null"]
        nullable = len(options) < len(schema["anyOf"])
        merged = {**_resolve(options[0], defs)}
        for key in ("description", "title"):
            if key in schema:
                merged.setdefault(key, schema[key])
        return merged, nullable
    return _resolve(schema, defs), False


def _walk(
    schema: dict[str, Any], defs: dict[str, Any], prefix: tuple[str, ...], required: bool
) -> list[Column]:
    columns: list[Column] = []
    needed = set(schema.get("required", ()))
    for name, raw in schema.get("properties", {}).items():
        if not prefix and name in EXCLUDED:
            continue
        path = (*prefix, name)
        prop, _nullable = _non_null(raw, defs)
        description = raw.get("description") or prop.get("description")
        is_required = required and name in needed
        if "properties" in prop:
            columns.extend(_walk(prop, defs, path, is_required))
            continue
        if prop.get("type") == "array":
            items = _resolve(prop.get("items", {}), defs)
            if "properties" in items:
                kind, item_enum = "json", None
            else:
                kind, item_enum = "list", tuple(items.get("enum", ())) or None
            limits: dict[str, Any] = {k: prop[k] for k in ("minItems", "maxItems") if k in prop}
            columns.append(
                Column(".".join(path), path, kind, is_required, description, limits, item_enum)
            )
            continue
        kind = {"number": "number", "integer": "integer", "boolean": "boolean"}.get(
            prop.get("type", "string"), "string"
        )
        fmt = prop.get("format")
        if fmt == "date":
            kind = "date"
        constraints: dict[str, Any] = {
            k: prop[k]
            for k in ("minimum", "maximum", "minLength", "maxLength", "pattern", "enum")
            if k in prop
        }
        if "const" in prop:
            constraints["enum"] = [prop["const"]]
        columns.append(
            Column(".".join(path), path, kind, is_required, description, constraints, None, fmt)
        )
    return columns


@lru_cache(maxsize=1)
def import_columns() -> tuple[Column, ...]:
    """Every column of the CSV import, in the order of the record."""
    schema = CabinCreate.model_json_schema()
    return tuple(_walk(schema, schema.get("$defs", {}), (), True))


@lru_cache(maxsize=1)
def columns_by_name() -> dict[str, Column]:
    return {c.name: c for c in import_columns()}


def required_column_names() -> list[str]:
    return [c.name for c in import_columns() if c.required]


class CellError(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def _cell(column: Column, raw: str) -> Any:
    if column.kind == "list":
        return [part.strip() for part in raw.split(LIST_SEPARATOR) if part.strip()]
    if column.kind == "json":
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise CellError(column.name, f"not a JSON array: {exc}") from None
        if not isinstance(value, list):
            raise CellError(column.name, "not a JSON array")
        return value
    if column.kind == "boolean":
        return _BOOLEANS.get(raw.lower(), raw)  # another word: Pydantic says what is wrong
    if column.kind == "number" and _DECIMAL_COMMA.match(raw):
        return raw.replace(",", ".").strip()  # French decimal comma: 90,5
    return raw


def cell_reason(error: ErrorDetails) -> str | None:
    """The reason for a CSV cell the record's model refused, where a cell is read otherwise
    than a JSON value: a boolean column takes the words above, which JSON does not."""
    if error["type"] in ("bool_parsing", "bool_type"):
        column = columns_by_name().get(".".join(str(part) for part in error["loc"]))
        if column is not None and column.kind == "boolean":
            return BOOLEAN_CELL_REASON
    return None


def unflatten(header: list[Column | None], cells: list[str]) -> dict[str, Any]:
    """The nested record of one CSV row. An empty cell is an absent value (unknown)."""
    record: dict[str, Any] = {}
    for column, raw in zip(header, cells, strict=False):
        if column is None or raw is None:
            continue
        raw = raw.strip()
        if raw == "":
            continue
        node = record
        for part in column.path[:-1]:
            node = node.setdefault(part, {})
        node[column.path[-1]] = _cell(column, raw)
    return record
