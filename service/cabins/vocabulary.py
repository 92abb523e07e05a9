"""The closed lists of the cabin record (domain-rules.md Part 1), shared by the table's CHECK
constraints, the Pydantic schemas and the rule engine."""

from __future__ import annotations

STATUSES = ("draft", "declared", "active", "suspended", "decommissioned")

# Lifecycle: draft → declared → active ⇄ suspended → decommissioned. Any non-final state may
# also be decommissioned directly (DELETE), since a cabin can be withdrawn at any point.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "draft": ("declared", "decommissioned"),
    "declared": ("active", "decommissioned"),
    "active": ("suspended", "decommissioned"),
    "suspended": ("active", "decommissioned"),
    "decommissioned": (),
}

VENUE_KINDS = (
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
)
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
# Venues for which a FINESS number is meaningful.
HEALTH_VENUE_KINDS = (*CARE_VENUE_KINDS[:-1],)

BUILDING_REGIMES = ("new", "existing")
PLACEMENTS = ("indoor_room", "indoor_open_area", "outdoor")
ENCLOSURES = ("closed_cabin", "closed_room", "open_borne")
ASSISTANCE_MODES = ("none", "pharmacist", "nurse", "other_health_professional", "trained_staff")
DEVICES = (
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
)
CARE_LINK_KINDS = ("cpts", "msp", "centre_sante", "pharmacie", "professionnel_rpps")
PROVIDER_KINDS = ("company_employing_doctors", "platform_only", "local_practitioners")
FEE_SECTORS = ("sector_1", "sector_2", "optam", "not_contracted", "mixed")
CONCERTATION_PARTIES = ("ars", "cpts", "urps", "cdom", "other")

# Blocks whose freshness SIT-20 checks: each has a `<block>_confirmed_at` column.
CONFIRMED_BLOCKS = ("siting", "declarations", "care_links", "provider", "fees", "accessibility")


def sql_in(column: str, values: tuple[str, ...]) -> str:
    """`column IN ('a', 'b')` for a CHECK constraint over a closed list."""
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"
