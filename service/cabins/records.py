"""Between the API's nested record and the table's columns: `columns_of` (a validated
`CabinCreate` → column values; `described_columns`, the part a what-if candidate shares),
`document_of` (a row → the `CabinCreate`-shaped dict that a
merge patch applies to), `read_of` (a row → `CabinRead`), and `flat_diff` and
`confirmation_diff` for the audit."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime
from typing import Any

from service.cabins.models import Cabin
from service.cabins.schemas import CabinCreate, CabinRead
from service.cabins.vocabulary import CONFIRMED_BLOCKS
from service.rules.models import CabinCompliance


def _block(model: Any) -> Any:
    if model is None:
        return None
    if isinstance(model, list):
        return [m.model_dump(mode="json", exclude_none=True) for m in model]
    return model.model_dump(mode="json", exclude_none=True)


def point_ewkt(lon: float, lat: float) -> str:
    return f"SRID=4326;POINT({lon!r} {lat!r})"


def columns_of(cabin: CabinCreate) -> dict[str, Any]:
    """Column values of the operator-written part of the record (not identity, lifecycle,
    derived codes or freshness)."""
    loc = cabin.location
    return {
        "operator_reference": cabin.operator_reference,
        "geom": point_ewkt(loc.lon, loc.lat),
        **described_columns(cabin),
    }


def described_columns(body: Any) -> dict[str, Any]:
    """The columns of what a body describes — address, declared commune, venue, declarations,
    opening hours and the JSONB blocks — for a `CabinCreate` or a partial what-if candidate
    (which share these attribute names)."""
    loc, venue, decl = body.location, body.venue, body.declarations
    return {
        "address_number": loc.address.number,
        "address_street": loc.address.street,
        "address_postcode": loc.address.postcode,
        "address_commune_name": loc.address.commune_name,
        "declared_insee": loc.declared_insee,
        "venue_kind": venue.kind,
        "venue_description": venue.description,
        "venue_name": venue.name,
        "venue_siret": venue.siret,
        "venue_finess": venue.finess,
        "venue_naf": venue.naf,
        "venue_building_regime": venue.building_regime,
        "venue_cabin_count": venue.cabin_count,
        "ars_declaration_date": decl.ars_declaration_date,
        "ars_declaration_reference": decl.ars_declaration_reference,
        "cpam_informed_date": decl.cpam_informed_date,
        "cpts_informed_date": decl.cpts_informed_date,
        "concertation_date": decl.concertation.date if decl.concertation else None,
        "concertation_parties": list(decl.concertation.parties) if decl.concertation else None,
        "opening_hours": body.opening_hours,
        "siting": _block(body.siting),
        "care_links": _block(body.care_links),
        "provider": _block(body.provider),
        "fees": _block(body.fees),
        "accessibility": _block(body.accessibility),
    }


def _iso(value: Any) -> Any:
    return value.isoformat() if value is not None else None


def _drop_none(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in value.items() if v is not None}


def document_of(cabin: Cabin, lon: float, lat: float) -> dict[str, Any]:
    """The operator-written record as JSON (the shape of `CabinCreate`, nulls left out)."""
    concertation = (
        {"date": _iso(cabin.concertation_date), "parties": cabin.concertation_parties}
        if cabin.concertation_date
        else None
    )
    doc = {
        "operator_reference": cabin.operator_reference,
        "location": {
            "lon": lon,
            "lat": lat,
            "declared_insee": cabin.declared_insee,
            "address": _drop_none(
                {
                    "number": cabin.address_number,
                    "street": cabin.address_street,
                    "postcode": cabin.address_postcode,
                    "commune_name": cabin.address_commune_name,
                }
            ),
        },
        "venue": _drop_none(
            {
                "kind": cabin.venue_kind,
                "description": cabin.venue_description,
                "name": cabin.venue_name,
                "siret": cabin.venue_siret,
                "finess": cabin.venue_finess,
                "naf": cabin.venue_naf,
                "building_regime": cabin.venue_building_regime,
                "cabin_count": cabin.venue_cabin_count,
            }
        ),
        "opening_hours": cabin.opening_hours,
        "siting": cabin.siting or {},
        "declarations": _drop_none(
            {
                "ars_declaration_date": _iso(cabin.ars_declaration_date),
                "ars_declaration_reference": cabin.ars_declaration_reference,
                "cpam_informed_date": _iso(cabin.cpam_informed_date),
                "cpts_informed_date": _iso(cabin.cpts_informed_date),
                "concertation": concertation,
            }
        ),
        "care_links": cabin.care_links or [],
        "provider": cabin.provider,
        "fees": cabin.fees,
        "accessibility": cabin.accessibility or {},
    }
    return _drop_none(doc)


def read_of(
    cabin: Cabin, lon: float, lat: float, compliance: CabinCompliance | None = None
) -> CabinRead:
    doc = document_of(cabin, lon, lat)
    doc["location"]["commune"] = {
        "insee": cabin.commune_insee,
        "departement": cabin.departement_code,
        "region": cabin.region_code,
        "epci": cabin.epci_siren,
        "vintage": cabin.commune_vintage,
    }
    doc["declarations"]["ars_received_date"] = _iso(cabin.ars_received_date)
    return CabinRead.model_validate(
        {
            **doc,
            "id": cabin.id,
            "reference": cabin.reference,
            "operator_id": cabin.operator_id,
            "opening_hours": cabin.opening_hours,
            "provider": cabin.provider,
            "fees": cabin.fees,
            "lifecycle": {
                "status": cabin.status,
                "declared_date": cabin.declared_date,
                "service_start_date": cabin.service_start_date,
                "suspended_date": cabin.suspended_date,
                "decommissioned_date": cabin.decommissioned_date,
            },
            "last_confirmed_at": {
                block: getattr(cabin, f"{block}_confirmed_at") for block in CONFIRMED_BLOCKS
            },
            "is_demo": cabin.is_demo,
            "compliance": None
            if compliance is None
            else {
                "status": compliance.compliance_status,
                "accessibility_label": compliance.accessibility_label,
                "failing_errors": compliance.failing_errors or [],
                "unknown_errors": compliance.unknown_errors or [],
                "failing_warnings": compliance.failing_warnings or [],
                "evaluated_at": compliance.updated_at,
            },
            "version": cabin.version,
            "created_at": cabin.created_at,
            "updated_at": cabin.updated_at,
        }
    )


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """`{"a": {"b": 1}}` → `{"a.b": 1}`; lists are kept whole (a list is one value)."""
    if isinstance(value, dict) and value:
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat |= flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return flat
    return {prefix: value} if prefix else {}


def flat_diff(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, list[Any]]:
    """`{path: [old, new]}` for every leaf that changed (absent = null)."""
    old, new = flatten(before or {}), flatten(after)
    return {
        path: [old.get(path), new.get(path)]
        for path in sorted(old.keys() | new.keys())
        if old.get(path) != new.get(path)
        and not (old.get(path) in (None, {}) and new.get(path) in (None, {}))
    }


def confirmed_blocks(given: Collection[str]) -> list[str]:
    """The blocks a write confirms (SIT-20): those it gives, even unchanged — a PATCH's keys,
    an import row's fields (the set-based path's `given` reads the same cells)."""
    return [block for block in CONFIRMED_BLOCKS if block in given]


def confirmation_diff(cabin: Cabin, blocks: Iterable[str], at: datetime) -> dict[str, list[Any]]:
    """The audit diff of confirming `blocks` at `at`, for PATCH and import alike:
    `last_confirmed_at.<block>` from the cabin's time (read before the write sets it) to
    `at` in UTC."""
    return {
        f"last_confirmed_at.{block}": [
            _iso(getattr(cabin, f"{block}_confirmed_at")),
            at.astimezone(UTC).isoformat(),
        ]
        for block in blocks
    }
