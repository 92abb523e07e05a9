"""The published Table Schema is the one the code writes, and the CSV header follows it."""

from __future__ import annotations

import json

from service.cabins.published import SCHEMA_DIR
from service.compliance.tableschema import FIELD_NAMES, tableschema


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
