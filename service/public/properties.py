"""The public face of a cabin: the properties a finder app shows, each a SQL expression over the
`cabin` row, and the subset published as OGC queryables (the whitelist CQL2 filters and simple
property filters may name). Nothing private is here: no internal id, operator, operator
reference, contact, key, declaration or note."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from service.cabins.models import Cabin
from service.cabins.vocabulary import VENUE_KINDS
from service.public.needs import text, wheelchair
from service.rules.models import ACCESSIBILITY_LABELS, COMPLIANCE_STATUSES, CabinCompliance


@dataclass(frozen=True)
class Property:
    name: str
    expr: Callable[[], Any]
    schema: dict[str, Any]
    queryable: bool = True


def _fact(key: str) -> Callable[[], Any]:
    return lambda: sa.cast(Cabin.accessibility[key].astext, sa.Boolean)


def _measure(key: str) -> Callable[[], Any]:
    return lambda: sa.cast(Cabin.accessibility[key].astext, sa.Numeric)


def _fee(key: str) -> Callable[[], Any]:
    return lambda: sa.cast(Cabin.fees[key].astext, sa.Numeric)


def _fee_fact(key: str) -> Callable[[], Any]:
    return lambda: sa.cast(Cabin.fees[key].astext, sa.Boolean)


def _fees_for_patients() -> ColumnElement[Any]:
    """The patient-facing part of the fee notice (SIT-15)."""
    return sa.func.jsonb_strip_nulls(
        sa.func.jsonb_build_object(
            text("base_fee_eur"),
            Cabin.fees["base_fee_eur"],
            text("sector"),
            Cabin.fees["sector"],
            text("depassements_possible"),
            Cabin.fees["depassements_possible"],
            text("optional_services"),
            Cabin.fees["optional_services"],
            text("venue_access_fee_eur"),
            Cabin.fees["venue_access_fee_eur"],
            text("info_url"),
            Cabin.fees["info_url"],
        )
    )


def _compliance_status() -> ColumnElement[Any]:
    """The rule engine's status (compliant / non_compliant / incomplete); null until the
    cabin has been evaluated."""
    return (
        sa.select(CabinCompliance.compliance_status)
        .where(CabinCompliance.cabin_id == Cabin.id)
        .scalar_subquery()
    )


def _accessibility_label() -> ColumnElement[Any]:
    """The label SIT-16 publishes from SIT-17 and SIT-18 (accessible / partial /
    not_accessible / unknown); null until the cabin has been evaluated."""
    return (
        sa.select(CabinCompliance.accessibility_label)
        .where(CabinCompliance.cabin_id == Cabin.id)
        .scalar_subquery()
    )


STRING = {"type": "string"}
NUMBER = {"type": "number"}
BOOLEAN = {"type": "boolean", "description": "null = unknown"}
NEED_STATUS = {"type": "string", "enum": ["met", "not_met", "unknown"]}

PROPERTIES: tuple[Property, ...] = (
    Property("reference", lambda: Cabin.reference, {**STRING, "title": "Public reference"}),
    Property("venue_kind", lambda: Cabin.venue_kind, {**STRING, "enum": sorted(VENUE_KINDS)}),
    Property("venue_name", lambda: Cabin.venue_name, STRING),
    Property("address_number", lambda: Cabin.address_number, STRING),
    Property("address_street", lambda: Cabin.address_street, STRING),
    Property("address_postcode", lambda: Cabin.address_postcode, STRING),
    Property("address_commune_name", lambda: Cabin.address_commune_name, STRING),
    Property("commune_insee", lambda: Cabin.commune_insee, STRING),
    Property("departement_code", lambda: Cabin.departement_code, STRING),
    Property("region_code", lambda: Cabin.region_code, STRING),
    Property(
        "opening_hours",
        lambda: Cabin.opening_hours,
        {**STRING, "description": "OSM opening_hours syntax"},
    ),
    Property(
        "wheelchair",
        lambda: wheelchair().status(),
        {**NEED_STATUS, "description": "step-free entrance, door width, turning space"},
    ),
    Property("entree_plain_pied", _fact("entree_plain_pied"), BOOLEAN),
    Property("cabin_door_clear_width_cm", _measure("cabin_door_clear_width_cm"), NUMBER),
    Property("turning_diameter_cm", _measure("turning_diameter_cm"), NUMBER),
    Property("hearing_loop", _fact("hearing_loop"), BOOLEAN),
    Property("live_captioning", _fact("live_captioning"), BOOLEAN),
    Property("sign_language_interpreting", _fact("sign_language_interpreting"), BOOLEAN),
    Property("speech_output", _fact("speech_output"), BOOLEAN),
    Property("stationnement_pmr", _fact("stationnement_pmr"), BOOLEAN),
    Property("base_fee_eur", _fee("base_fee_eur"), NUMBER),
    Property("venue_access_fee_eur", _fee("venue_access_fee_eur"), NUMBER),
    Property("depassements_possible", _fee_fact("depassements_possible"), BOOLEAN),
    Property(
        "updated_at",
        lambda: Cabin.updated_at,
        {"type": "string", "format": "date-time"},
    ),
    Property(
        "accessibility_label",
        _accessibility_label,
        {
            **STRING,
            "enum": list(ACCESSIBILITY_LABELS),
            "description": "SIT-16 label from the rule engine; null until evaluated",
        },
    ),
    Property(
        "compliance_status",
        _compliance_status,
        {
            **STRING,
            "enum": list(COMPLIANCE_STATUSES),
            "description": "from the rule engine; null until evaluated",
        },
    ),
    Property("fees", _fees_for_patients, {"type": "object"}, queryable=False),
    Property(
        "accessibility",
        lambda: Cabin.accessibility,
        {"type": "object", "description": "every accessibility fact; null = unknown"},
        queryable=False,
    ),
)

QUERYABLES: dict[str, Property] = {p.name: p for p in PROPERTIES if p.queryable}


@lru_cache
def properties_object() -> ColumnElement[Any]:
    """`json_build_object` of every public property of the row. Built once: SQLAlchemy
    elements are immutable, and building this tree costs more than running the query."""
    args: list[Any] = []
    for prop in PROPERTIES:
        args += [text(prop.name), prop.expr()]
    return sa.func.json_build_object(*args)
