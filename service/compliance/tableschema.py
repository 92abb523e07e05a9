"""The Frictionless Table Schema of the compliance CSV export, published as
`schemas/compliance-export.tableschema.json` (`registry schemas --write`). The CSV writer takes
its column order from here, so the file and the schema cannot disagree."""

from __future__ import annotations

from typing import Any

from service.cabins.vocabulary import STATUSES, VENUE_KINDS
from service.rules.models import ACCESSIBILITY_LABELS, COMPLIANCE_STATUSES

BASE_ID = "https://cabin-registry.example/schemas/"
RULE_CODE = r"[A-Z]{3}-[0-9]{2}"


FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet reads as the start of a formula (OWASP, CSV injection)."""
FORMULA_GUARD = (
    " A value beginning with =, +, -, @, a tab or a carriage return is written with an"
    " apostrophe (') before it, so that a spreadsheet shows it as text instead of running it"
    " as a formula: remove that apostrophe to read the value as stored."
)


def _field(name: str, type_: str, description: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "description": description, **extra}


FREE_TEXT_FIELDS = (
    "operator_name",
    "operator_reference",
    "venue_name",
    "commune_name",
    "ars_declaration_reference",
)
"""The columns of free text, typed by an operator or a regulator (or a name from a layer):
the CSV guards them against formula injection (`exports.csv_chunks`); never the numbers,
dates, codes and enumerations, which a spreadsheet must read as they are."""


def _text(name: str, description: str, **extra: Any) -> dict[str, Any]:
    return _field(name, "string", description + FORMULA_GUARD, **extra)


FIELDS: list[dict[str, Any]] = [
    _field(
        "id", "string", "Cabin id.", format="uuid", constraints={"required": True, "unique": True}
    ),
    _field(
        "reference",
        "string",
        "Public reference of the cabin.",
        constraints={"required": True, "pattern": "CAB-[0-9A-Z]{8}"},
    ),
    _field("operator_id", "string", "Operator id.", format="uuid", constraints={"required": True}),
    _text("operator_name", "Operator name.", constraints={"required": True}),
    _text(
        "operator_reference",
        "The operator's own reference.",
        constraints={"required": True},
    ),
    _field(
        "status",
        "string",
        "Lifecycle status.",
        constraints={"required": True, "enum": list(STATUSES)},
    ),
    _field(
        "venue_kind",
        "string",
        "Kind of venue hosting the cabin.",
        constraints={"required": True, "enum": list(VENUE_KINDS)},
    ),
    _text("venue_name", "Name of the venue."),
    _field(
        "commune_insee",
        "string",
        "INSEE code of the commune derived from the point.",
        constraints={"pattern": "[0-9][0-9AB][0-9]{3}"},
    ),
    _text("commune_name", "Name of that commune (current layer)."),
    _field(
        "departement_code",
        "string",
        "INSEE département code.",
        constraints={"pattern": "[0-9]{2}|2A|2B|97[1-6]"},
    ),
    _field("region_code", "string", "INSEE région code.", constraints={"pattern": "[0-9]{2}"}),
    _field("epci_siren", "string", "SIREN of the EPCI.", constraints={"pattern": "[0-9]{9}"}),
    _field(
        "lon",
        "number",
        "Longitude, WGS 84 (EPSG:4326), degrees.",
        constraints={"required": True, "minimum": -180, "maximum": 180},
    ),
    _field(
        "lat",
        "number",
        "Latitude, WGS 84 (EPSG:4326), degrees.",
        constraints={"required": True, "minimum": -90, "maximum": 90},
    ),
    _field(
        "compliance_status",
        "string",
        "Derived compliance; empty when the cabin is not evaluated yet.",
        constraints={"enum": list(COMPLIANCE_STATUSES)},
    ),
    _field(
        "accessibility_label",
        "string",
        "Derived accessibility label.",
        constraints={"enum": list(ACCESSIBILITY_LABELS)},
    ),
    _field(
        "failing_rules",
        "string",
        "Codes of the rules the cabin fails, separated by ';', in code order.",
        constraints={"pattern": f"({RULE_CODE}(;{RULE_CODE})*)?"},
    ),
    _field(
        "failing_since",
        "datetime",
        "Earliest date-time since which one of the failing rules has failed (UTC).",
    ),
    _field(
        "unknown_rules",
        "string",
        "Codes of the error rules that cannot be decided (data missing), separated by ';'.",
        constraints={"pattern": f"({RULE_CODE}(;{RULE_CODE})*)?"},
    ),
    _field(
        "failing_evidence",
        "object",
        "JSON object: for each failing rule code, the evidence of its verdict.",
    ),
    _field("ars_declaration_date", "date", "Date of the declaration to the ARS."),
    _text("ars_declaration_reference", "Reference or receipt number of that declaration."),
    _field("ars_received_date", "date", "Date the ARS recorded receiving the declaration."),
    _field("evaluated_at", "datetime", "When the compliance was last derived (UTC)."),
]

FIELD_NAMES = [f["name"] for f in FIELDS]


def tableschema() -> dict[str, Any]:
    return {
        "$id": BASE_ID + "compliance-export.tableschema.json",
        "name": "compliance-export",
        "title": "Cabin Registry — compliance export (GET /v1/compliance/export.csv)",
        "description": "One row per cabin in the caller's scope matching the filters, in cabin"
        " id order. UTF-8, comma-separated, header row, RFC 4180 quoting; an empty cell is a"
        " missing value. In the free-text columns ("
        + ", ".join(FREE_TEXT_FIELDS)
        + ") a spreadsheet formula is guarded against (OWASP's CSV injection; each field's"
        " description says how); numbers, dates and codes are written as they are. The XLSX"
        " export needs no such mark: its text cells are always text.",
        "fields": FIELDS,
        "primaryKey": ["id"],
        "missingValues": [""],
    }
