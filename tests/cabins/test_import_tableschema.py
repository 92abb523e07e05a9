"""`schemas/cabin-import.tableschema.json` is generated from the Pydantic model of the cabin:
a test fails when it drifts, and every column it publishes is one the importer reads."""

from __future__ import annotations

import json

from pydantic import TypeAdapter

from service.cabins import published
from service.cabins.imports.columns import columns_by_name, import_columns, unflatten
from service.cabins.imports.parse import read_csv

NAME = "cabin-import.tableschema.json"


def test_import_table_schema_is_current() -> None:
    path = published.SCHEMA_DIR / NAME
    assert path.exists(), f"{path} is missing: run `registry schemas --write`"
    assert path.read_text() == published.render(NAME), (
        f"{path} is stale: run `registry schemas --write`"
    )


def test_import_table_schema_lists_every_column_with_its_type() -> None:
    schema = json.loads(published.render(NAME))
    fields = {f["name"]: f for f in schema["fields"]}
    assert list(fields) == [c.name for c in import_columns()]
    assert fields["location.lon"]["constraints"]["required"] is True
    assert fields["accessibility.entree_largeur_mini"]["type"] == "number"
    assert fields["accessibility.hearing_loop"]["type"] == "boolean"
    assert fields["declarations.ars_declaration_date"]["type"] == "date"
    assert fields["siting.assistance_modes"]["delimiter"] == "|"
    assert fields["care_links"]["type"] == "array"
    assert "pharmacie_officine" in fields["venue.kind"]["constraints"]["enum"]
    assert "operator_id" not in fields


def test_a_header_of_every_published_column_is_accepted() -> None:
    names = [f["name"] for f in json.loads(published.render(NAME))["fields"]]
    header = ";".join(names)
    row = ";".join(["R-1", "2.35", "48.85", "75056"] + [""] * (len(names) - 4))
    [record] = list(read_csv(f"{header}\n{row}\n"))
    assert record.errors == []
    assert record.data is not None
    assert record.data["location"]["declared_insee"] == "75056"


def test_every_boolean_value_the_schema_lists_is_read_as_that_boolean() -> None:
    """The Table Schema's values are exact, the importer reads any case: the schema lists
    each word the importer reads as spreadsheets and people write it, and nothing else."""
    field = {f["name"]: f for f in json.loads(published.render(NAME))["fields"]}[
        "accessibility.hearing_loop"
    ]
    column = columns_by_name()["accessibility.hearing_loop"]
    read = TypeAdapter(bool)

    def cell(value: str) -> bool:
        return read.validate_python(unflatten([column], [value])["accessibility"]["hearing_loop"])

    assert all(cell(value) is True for value in field["trueValues"])
    assert all(cell(value) is False for value in field["falseValues"])
    assert {"VRAI", "Vrai", "vrai", "Oui", "OUI", "YES", "Yes", "On"} <= set(field["trueValues"])
    assert {"FAUX", "Faux", "Non", "NON", "NO", "No", "Off"} <= set(field["falseValues"])
