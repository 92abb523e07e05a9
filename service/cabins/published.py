"""The machine-readable schemas published under `schemas/`, generated from the Pydantic
models (`registry schemas --write`); a test fails when the files drift from the code. Each
entry maps a file name to the function that renders it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from service.cabins.imports.tableschema import cabin_import_table_schema
from service.cabins.schemas import CabinCreate, CabinRead
from service.compliance.tableschema import tableschema as compliance_export_tableschema

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = ROOT / "schemas"
BASE_ID = "https://cabin-registry.example/schemas/"


def cabin_json_schema() -> dict[str, Any]:
    """The cabin as an operator writes it (JSON Schema 2020-12), with the read shape beside it."""
    schema = CabinCreate.model_json_schema(ref_template="#/$defs/{model}")
    read = CabinRead.model_json_schema(ref_template="#/$defs/{model}")
    defs = {**schema.pop("$defs", {}), **read.pop("$defs", {}), "CabinRead": read}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": BASE_ID + "cabin.schema.json",
        **schema,
        "$defs": dict(sorted(defs.items())),
    }


SCHEMAS: dict[str, Callable[[], dict[str, Any]]] = {
    "cabin.schema.json": cabin_json_schema,
    "cabin-import.tableschema.json": cabin_import_table_schema,
    "compliance-export.tableschema.json": compliance_export_tableschema,
}


def render(name: str) -> str:
    return json.dumps(SCHEMAS[name](), indent=2, ensure_ascii=False) + "\n"


def write_all() -> list[Path]:
    SCHEMA_DIR.mkdir(exist_ok=True)
    written = []
    for name in SCHEMAS:
        path = SCHEMA_DIR / name
        path.write_text(render(name))
        written.append(path)
    return written
