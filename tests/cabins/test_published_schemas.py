"""`schemas/*.json` are generated from the Pydantic models: a test fails when they drift."""

from __future__ import annotations

import json

import pytest

from service.cabins import published


@pytest.mark.parametrize("name", sorted(published.SCHEMAS))
def test_published_schema_is_current(name: str) -> None:
    path = published.SCHEMA_DIR / name
    assert path.exists(), f"{path} is missing: run `registry schemas --write`"
    assert path.read_text() == published.render(name), (
        f"{path} is stale: run `registry schemas --write`"
    )


def test_cabin_schema_describes_the_record() -> None:
    schema = json.loads(published.render("cabin.schema.json"))
    assert schema["$schema"].endswith("2020-12/schema")
    assert set(schema["required"]) == {"operator_reference", "location", "venue"}
    accessibility = schema["$defs"]["Accessibility"]["properties"]
    assert "unknown" in accessibility["hearing_loop"]["description"]
    assert "CabinRead" in schema["$defs"]
