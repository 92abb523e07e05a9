"""The published Table Schema is the one the code writes, and the CSV header follows it."""

from __future__ import annotations

import json

from service.cabins.published import SCHEMA_DIR
from service.compliance.tableschema import (
    FIELD_NAMES,
    FORMULA_GUARD,
    FREE_TEXT_FIELDS,
    tableschema,
)


def test_published_table_schema_is_current() -> None:
    path = SCHEMA_DIR / "compliance-export.tableschema.json"
    assert json.loads(path.read_text()) == tableschema(), (
        "schemas/compliance-export.tableschema.json is stale: run `registry schemas --write`"
    )


def test_every_field_has_a_type_and_a_description() -> None:
    for field in tableschema()["fields"]:
        assert field["type"] in {"string", "number", "date", "datetime", "object"}
        assert field["description"]
    assert tableschema()["primaryKey"] == ["id"]
    assert FIELD_NAMES[0] == "id"


def test_the_free_text_columns_say_how_the_csv_guards_them() -> None:
    """The CSV's formula guard is documented where a reader of the file looks: the schema's
    description names the guarded columns, each of them says how, once; only string columns
    without a pattern or an enum are guarded."""
    schema = tableschema()
    assert all(name in schema["description"] for name in FREE_TEXT_FIELDS)
    assert "apostrophe" not in schema["description"]
    by_name = {f["name"]: f for f in schema["fields"]}
    assert set(FREE_TEXT_FIELDS) <= set(by_name)
    for name in FREE_TEXT_FIELDS:
        field = by_name[name]
        assert field["type"] == "string", name
        assert not {"pattern", "enum"} & set(field.get("constraints", {})), name
        assert field["description"].endswith(FORMULA_GUARD), name
    for name in set(by_name) - set(FREE_TEXT_FIELDS):
        assert "apostrophe" not in by_name[name]["description"], name
