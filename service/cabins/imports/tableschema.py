"""The CSV import format as a Frictionless Table Schema, generated from the import columns
(themselves derived from the `CabinCreate` Pydantic model), published as
`schemas/cabin-import.tableschema.json` by `registry schemas --write`."""

from __future__ import annotations

from typing import Any

from service.cabins.imports.columns import (
    FALSE_WORDS,
    LIST_SEPARATOR,
    TRUE_WORDS,
    Column,
    import_columns,
)
from service.patterns import TEXT_GUARDS

BASE_ID = "https://cabin-registry.example/schemas/"


def _spellings(words: tuple[str, ...]) -> list[str]:
    """The importer reads a boolean word in any case, a Table Schema's trueValues and
    falseValues are exact: each word as it is written, lower case, capitalised or upper case
    (VRAI, Oui, true)."""
    return list(dict.fromkeys(form for w in words for form in (w, w.capitalize(), w.upper())))


TRUE_VALUES = _spellings(TRUE_WORDS)
FALSE_VALUES = _spellings(FALSE_WORDS)

_TYPES = {
    "string": "string",
    "number": "number",
    "integer": "integer",
    "boolean": "boolean",
    "date": "date",
    "list": "list",
    "json": "array",
}


def _field(column: Column) -> dict[str, Any]:
    field: dict[str, Any] = {"name": column.name, "type": _TYPES[column.kind]}
    description = column.description or ""
    if column.kind == "list":
        field["delimiter"] = LIST_SEPARATOR
        field["itemType"] = "string"
        if column.item_enum:
            description += f" Values from: {', '.join(column.item_enum)}."
        description += f" Several values separated by `{LIST_SEPARATOR}`."
    if column.kind == "json":
        description += " A JSON array of objects, as in the JSON body of POST /v1/cabins."
    if column.kind == "number":
        description += " A decimal comma (90,5) is accepted."
    if column.kind == "boolean":
        field["trueValues"] = TRUE_VALUES
        field["falseValues"] = FALSE_VALUES
        description += " Empty = unknown."
    if column.fmt == "uri":
        field["format"] = "uri"
    if description.strip():
        field["description"] = description.strip()
    constraints: dict[str, Any] = {}
    if column.required:
        constraints["required"] = True
    for key, value in column.constraints.items():
        if key == "pattern" and value in TEXT_GUARDS:
            continue  # the guard of every text field (said in the description), not a format
        constraints[key] = value
    if constraints:
        field["constraints"] = constraints
    return field


def cabin_import_table_schema() -> dict[str, Any]:
    return {
        "$schema": "https://datapackage.org/profiles/2.0/tableschema.json",
        "$id": BASE_ID + "cabin-import.tableschema.json",
        "title": "Cabin Registry — bulk import of cabins (CSV)",
        "description": (
            "POST /v1/cabins/import with Content-Type: text/csv. UTF-8 with or without BOM;"
            " `,` or `;` as separator (detected from the header line); one cabin per row, the"
            " header naming the columns (any order, unknown columns refused; a column with no"
            " name, as a spreadsheet's trailing separators leave, must have only empty cells)."
            " An empty cell is"
            " an absent value: for a fact, unknown — never false. Rows are upserted by"
            " operator_reference. Each column is a field of the cabin record (its dotted path"
            " in the JSON body of POST /v1/cabins). A text cell is one line without control"
            " characters (no tab, line break, U+0000-U+001F nor U+007F-U+009F)."
        ),
        "fields": [_field(column) for column in import_columns()],
        "missingValues": [""],
        "primaryKey": ["operator_reference"],
    }
