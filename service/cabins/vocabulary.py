"""The closed lists of the cabin record (domain-rules.md Part 1) and of its bulk import,
written once as `Literal` types for the Pydantic schemas, with the tuples the tables' CHECK
constraints, the rule engine and the command line use derived from them."""

from __future__ import annotations

from typing import Literal, get_args

Status = Literal["draft", "declared", "active", "suspended", "decommissioned"]
STATUSES: tuple[str, ...] = get_args(Status)

# Lifecycle: draft → declared → active ⇄ suspended → decommissioned. Any non-final state may
# also be decommissioned directly (DELETE), since a cabin can be withdrawn at any point.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "draft": ("declared", "decommissioned"),
    "declared": ("active", "decommissioned"),
    "active": ("suspended", "decommissioned"),
    "suspended": ("active", "decommissioned"),
    "decommissioned": (),
}

VenueKind = Literal[
    "pharmacie_officine",
    "pui",
    "laboratoire_biologie",
    "cabinet_medical",
    "cabinet_paramedical",
    "msp",
    "centre_sante",
    "etablissement_sante",
    "esms",
    "opticien",
    "audioprothesiste",
    "mairie_france_services",
    "entreprise",
    "enseignement",
    "gare_transport",
    "grande_surface",
    "centre_commercial",
    "debit_de_boissons",
    "autre",
]
VENUE_KINDS: tuple[str, ...] = get_args(VenueKind)
# Care places of SIT-03 (the default of its `care_venue_types` parameter).
CARE_VENUE_KINDS = (
    "pharmacie_officine",
    "pui",
    "laboratoire_biologie",
    "cabinet_medical",
    "cabinet_paramedical",
    "msp",
    "centre_sante",
    "etablissement_sante",
    "esms",
    "opticien",
)

BUILDING_REGIMES = ("new", "existing")
Placement = Literal["indoor_room", "indoor_open_area", "outdoor"]
Enclosure = Literal["closed_cabin", "closed_room", "open_borne"]
AssistanceMode = Literal[
    "none", "pharmacist", "nurse", "other_health_professional", "trained_staff"
]
Device = Literal[
    "stethoscope_connected",
    "otoscope_connected",
    "oximeter",
    "blood_pressure_monitor",
    "thermometer",
    "dermatoscope_connected",
    "ecg_connected",
    "scale",
    "glucometer",
    "other",
]
CareLinkKind = Literal["cpts", "msp", "centre_sante", "pharmacie", "professionnel_rpps"]
ProviderKind = Literal["company_employing_doctors", "platform_only", "local_practitioners"]
FeeSector = Literal["sector_1", "sector_2", "optam", "not_contracted", "mixed"]
ConcertationParty = Literal["ars", "cpts", "urps", "cdom", "other"]

# How a bulk import treats bad rows: atomic writes nothing, partial writes the good rows.
ImportMode = Literal["atomic", "partial"]
IMPORT_MODES: tuple[str, ...] = get_args(ImportMode)
ImportState = Literal["queued", "running", "succeeded", "rejected", "failed"]
IMPORT_STATES: tuple[str, ...] = get_args(ImportState)

# Blocks whose freshness SIT-20 checks: each has a `<block>_confirmed_at` column.
CONFIRMED_BLOCKS = ("siting", "declarations", "care_links", "provider", "fees", "accessibility")


def sql_in(column: str, values: tuple[str, ...]) -> str:
    """`column IN ('a', 'b')` for a CHECK constraint over a closed list."""
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"
