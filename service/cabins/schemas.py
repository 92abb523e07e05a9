"""The cabin record as the API shows it (domain-rules.md Part 1): `CabinCreate` (what an
operator writes; PATCH is a JSON merge patch over the same shape), `CabinRead` (plus identity,
lifecycle, derived codes and freshness), and the lifecycle transition. Field constraints here
are the type-level checks (formats, plausible ranges); cross-field and database checks are in
`service.cabins.validation`.

Units: lengths of the accessibility block are centimetres (the SIT-17/18 thresholds in metres
convert ×100), slopes are percent, fees are euros. Every accessibility fact is tri-state:
`true`, `false`, or `null`/absent = unknown (unknown is never false)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

from service.cabins.vocabulary import (
    AssistanceMode,
    CareLinkKind,
    ConcertationParty,
    Device,
    Enclosure,
    FeeSector,
    Placement,
    ProviderKind,
    Status,
    VenueKind,
)
from service.patterns import FINESS, INSEE, MULTI_LINE, NAF, ONE_LINE, POSTCODE, RPPS, SIREN, SIRET

# `date` under another name, for a field named `date` (which shadows the type in its class
# body). Its refusal, as every date's, says the form the registry reads
# (`service.errors.pydantic_reason`).
Day = date


# Free text is one line without control characters (service.patterns.ONE_LINE): a tab, a
# line break or a C1 control in a name, an address or a reference breaks the exports and the
# finder apps that show it. Only a note (the reason of a transition) runs over several lines.
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500, pattern=ONE_LINE)
]
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120, pattern=ONE_LINE)
]
Note = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500, pattern=MULTI_LINE),
]
Insee = Annotated[str, StringConstraints(pattern=INSEE)]
Siren = Annotated[str, StringConstraints(pattern=SIREN)]
Siret = Annotated[str, StringConstraints(pattern=SIRET)]
Finess = Annotated[str, StringConstraints(pattern=FINESS)]
Rpps = Annotated[str, StringConstraints(pattern=RPPS)]
Naf = Annotated[str, StringConstraints(pattern=NAF)]
Postcode = Annotated[str, StringConstraints(pattern=POSTCODE)]
OpeningHours = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000, pattern=ONE_LINE)
]


def _not_a_boolean(value: Any) -> Any:
    """Pydantic reads `true` as 1 in a number field: a measurement is never a yes/no."""
    if isinstance(value, bool):
        raise ValueError(f"must be a number, not {str(value).lower()}")
    return value


# The record's numbers: a JSON number, or its text (CSV cells are text), never a boolean; and
# finite, as `Input` refuses NaN and Infinity. (The validator wraps the whole optional type so
# that the Field's bounds still reach the JSON Schema as minimum / maximum.)
Number = Annotated[float, BeforeValidator(_not_a_boolean)]
OptionalNumber = Annotated[float | None, BeforeValidator(_not_a_boolean)]
OptionalCount = Annotated[int | None, BeforeValidator(_not_a_boolean)]


class Input(BaseModel):
    """Every input block refuses unknown fields, so a typo is an error, never ignored; its
    numbers are finite (NaN and Infinity are refused, whatever parser let them in)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def cm(description: str, low: float, high: float) -> Any:
    """A length in centimetres within a plausible range; null = unknown."""
    return Field(default=None, ge=low, le=high, description=f"{description} (cm); null = unknown")


def fact(description: str) -> Any:
    """A tri-state fact: true, false, or null = unknown."""
    return Field(default=None, description=f"{description}. true / false / null = unknown")


class Address(Input):
    number: ShortText | None = Field(default=None, description="Street number, e.g. 12 bis.")
    street: Text | None = Field(default=None, description="Street name.")
    postcode: Postcode | None = Field(default=None, description="Code postal (5 digits).")
    commune_name: ShortText | None = Field(default=None, description="Commune name as written.")


class Location(Input):
    """Where the cabin is. The commune, département, région and EPCI are derived from the
    point through the current commune layer; the point must fall in the declared commune."""

    lon: Number = Field(ge=-180, le=180, description="Longitude, WGS 84 (EPSG:4326).")
    lat: Number = Field(ge=-90, le=90, description="Latitude, WGS 84 (EPSG:4326).")
    declared_insee: Insee = Field(
        description="INSEE code of the commune the operator declares (COG; 2A/2B in Corsica)."
    )
    address: Address = Field(default_factory=Address)


class DerivedCommune(BaseModel):
    """Derived from the point and the current commune layer (read-only)."""

    insee: str | None = Field(description="Commune holding the point.")
    departement: str | None
    region: str | None
    epci: str | None = Field(description="SIREN of the EPCI.")
    vintage: str | None = Field(description="Vintage of the commune layer used.")


class LocationRead(Location):
    commune: DerivedCommune


class Venue(Input):
    """The place hosting the cabin."""

    kind: VenueKind = Field(description="Closed list (domain-rules.md); care places for SIT-03.")
    description: Text | None = Field(default=None, description="Required when kind is 'autre'.")
    name: Text | None = Field(default=None, description="Venue name.")
    siret: Siret | None = Field(default=None, description="SIRET (14 digits, Luhn key).")
    finess: Finess | None = Field(
        default=None,
        description="FINESS établissement (9 characters, starting with the département code);"
        " for health venues.",
    )
    naf: Naf | None = Field(default=None, description="NAF rev. 2 code of the venue, e.g. 47.73Z.")
    building_regime: Literal["new", "existing"] | None = Field(
        default=None,
        description="Accessibility regime: `new` if the building permit was filed on or after"
        " 2017-07-01, else `existing`.",
    )
    cabin_count: OptionalCount = Field(
        default=None, ge=1, le=100, description="Number of cabins at the venue (SIT-18)."
    )


class ResponsiblePerson(Input):
    name_or_role: Text | None = Field(default=None, description="Who is responsible on site.")
    trained_on_date: date | None = Field(
        default=None, description="Training date (confidentiality, patients' rights, equipment)."
    )
    bound_by_secrecy: bool | None = fact("Bound by professional secrecy")


class Siting(Input):
    """Siting conditions (HAS 2024, D3-D4): SIT-05..08 and SIT-13."""

    placement: Placement | None = Field(default=None, description="Where the cabin stands.")
    directly_reachable_from_public_space: bool | None = fact(
        "Reachable directly from the street / public space"
    )
    enclosure: Enclosure | None = Field(default=None, description="Closed cabin, room or borne.")
    sound_insulated: bool | None = fact("Sound and visual isolation")
    waiting_area_dedicated: bool | None = fact("A dedicated waiting area exists")
    commercial_solicitation_free: bool | None = fact("The area is free of commercial solicitation")
    responsible_person: ResponsiblePerson = Field(default_factory=ResponsiblePerson)
    staff_hours: OpeningHours | None = Field(
        default=None, description="Hours the responsible person is present (OSM opening_hours)."
    )
    assistance_modes: list[AssistanceMode] = Field(
        default_factory=list, max_length=5, description="Who assists the patient."
    )
    devices: list[Device] = Field(
        default_factory=list, max_length=20, description="Connected devices available."
    )


class Concertation(Input):
    """Recorded concertation when the site is outside a zone of need (SIT-09)."""

    date: Day
    parties: list[ConcertationParty] = Field(min_length=1, max_length=5)


class Declarations(Input):
    """Declarations (roadmap A3): SIT-01, SIT-02, SIT-09."""

    ars_declaration_date: date | None = Field(default=None, description="Declared to the ARS on.")
    ars_declaration_reference: Text | None = Field(
        default=None, description="Reference or receipt number of the ARS declaration."
    )
    cpam_informed_date: date | None = Field(default=None, description="CPAM informed on.")
    cpts_informed_date: date | None = Field(default=None, description="CPTS informed on.")
    concertation: Concertation | None = None


class DeclarationsRead(Declarations):
    ars_received_date: date | None = Field(
        default=None, description="Received by the ARS (recorded by the ARS itself)."
    )


class CareLink(Input):
    """A coordinated-care partner (SIT-11/12): identified by FINESS, SIRET or RPPS."""

    kind: CareLinkKind
    name: Text | None = None
    finess: Finess | None = None
    siret: Siret | None = None
    rpps: Rpps | None = Field(default=None, description="RPPS (11 digits) for professionnel_rpps.")


class Provider(Input):
    """The teleconsultation provider (SIT-14)."""

    name: Text | None = None
    siret: Siret | None = None
    kind: ProviderKind | None = None
    agrement_number: ShortText | None = Field(
        default=None, description="Agrément of a company employing doctors."
    )
    agrement_start_date: date | None = None
    agrement_end_date: date | None = None


class OptionalService(Input):
    name: Text
    price_eur: Number = Field(ge=0, le=1000)
    optional: bool = Field(description="Flagged optional to the patient (SIT-15).")


class Fees(Input):
    """The fee notice (SIT-15)."""

    base_fee_eur: OptionalNumber = Field(
        default=None, ge=0, le=500, description="Conventional base fee (EUR)."
    )
    sector: FeeSector | None = None
    depassements_possible: bool | None = fact("Extra fees (dépassements) possible")
    optional_services: list[OptionalService] = Field(default_factory=list, max_length=20)
    venue_access_fee_eur: OptionalNumber = Field(
        default=None, ge=0, le=500, description="Access fee charged by the venue or operator."
    )
    info_url: AnyHttpUrl | None = Field(default=None, description="Where the notice is published.")
    shown_on_site: bool | None = fact("The notice is displayed at the cabin")


class Accessibility(Input):
    """Accessibility (SIT-16..18). Names follow acceslibre where it has one (`entree_*`,
    `stationnement_pmr`, `registre_url`); lengths in cm, slopes in %."""

    entree_plain_pied: bool | None = fact("Step-free access to the venue entrance")
    entree_largeur_mini: OptionalNumber = cm("Entrance clear width", 30, 400)
    threshold_height_cm: OptionalNumber = Field(
        default=None, ge=0, le=50, description="Threshold (ressaut) height (cm)."
    )
    ramp_slope_pct: OptionalNumber = Field(
        default=None, ge=0, le=100, description="Ramp slope (%), when there is a ramp."
    )
    ramp_length_cm: OptionalNumber = cm("Ramp length", 0, 5000)
    path_width_cm: OptionalNumber = cm("Path width to the cabin", 30, 1000)
    cabin_door_clear_width_cm: OptionalNumber = cm("Cabin door clear width", 30, 400)
    turning_diameter_cm: OptionalNumber = cm("Interior turning diameter", 30, 500)
    equivalent_solution_documented: bool | None = fact(
        "A documented 'solution d'effet équivalent' replaces the turning space"
    )
    usage_space_width_cm: OptionalNumber = cm(
        "Usage space in front of the equipment, width", 30, 500
    )
    usage_space_depth_cm: OptionalNumber = cm(
        "Usage space in front of the equipment, depth", 30, 500
    )
    controls_height_min_cm: OptionalNumber = cm("Lowest screen/control height", 20, 250)
    controls_height_max_cm: OptionalNumber = cm("Highest screen/control height", 20, 250)
    desk_height_cm: OptionalNumber = cm("Writing or keyboard surface height", 20, 200)
    knee_clearance_height_cm: OptionalNumber = cm("Knee clearance height", 0, 200)
    knee_clearance_width_cm: OptionalNumber = cm("Knee clearance width", 0, 300)
    knee_clearance_depth_cm: OptionalNumber = cm("Knee clearance depth", 0, 300)
    seat_or_transfer_possible: bool | None = fact("A seat, or a transfer from a wheelchair")
    adjustable_screen: bool | None = fact("The screen height or angle adjusts")
    hearing_loop: bool | None = fact("Induction loop (boucle à induction magnétique)")
    live_captioning: bool | None = fact("Subtitles or live captioning")
    sign_language_interpreting: bool | None = fact("LSF interpreting offered")
    speech_output: bool | None = fact("Speech output / screen reader")
    high_contrast_display: bool | None = fact("High-contrast display")
    tactile_markers: bool | None = fact("Tactile or braille markers")
    stationnement_pmr: bool | None = fact("Accessible parking nearby")
    registre_url: AnyHttpUrl | None = Field(
        default=None, description="The venue's registre public d'accessibilité."
    )
    acceslibre_id: ShortText | None = Field(default=None, description="acceslibre UUID or slug.")


class CabinCreate(Input):
    """A cabin as its operator declares it. New cabins start as `draft`."""

    operator_reference: ShortText = Field(
        description="The operator's own reference for the cabin, unique per operator."
    )
    operator_id: uuid.UUID | None = Field(
        default=None,
        description="Owner. Set by admins only; an operator's cabins are always its own.",
    )
    location: Location
    venue: Venue
    opening_hours: OpeningHours | None = Field(
        default=None, description="Cabin opening hours, OSM `opening_hours` syntax."
    )
    siting: Siting = Field(default_factory=Siting)
    declarations: Declarations = Field(default_factory=Declarations)
    care_links: list[CareLink] = Field(default_factory=list, max_length=20)
    provider: Provider | None = None
    fees: Fees | None = None
    accessibility: Accessibility = Field(default_factory=Accessibility)


class LastConfirmed(BaseModel):
    """When each block was last written or confirmed (SIT-20)."""

    siting: datetime | None
    declarations: datetime | None
    care_links: datetime | None
    provider: datetime | None
    fees: datetime | None
    accessibility: datetime | None


class Lifecycle(BaseModel):
    status: Status
    declared_date: date | None
    service_start_date: date | None
    suspended_date: date | None
    decommissioned_date: date | None


class ComplianceBrief(BaseModel):
    """The cabin's standing under the rule set in force, as of its last evaluation."""

    status: Literal["compliant", "non_compliant", "incomplete"] = Field(
        description="compliant: no error rule fails; non_compliant: one does; incomplete: an"
        " error rule cannot be decided for want of data (and none fails)."
    )
    accessibility_label: Literal["accessible", "partial", "not_accessible", "unknown"]
    failing_errors: list[str] = Field(description="Error-severity rules that fail.")
    unknown_errors: list[str] = Field(description="Error-severity rules that cannot be decided.")
    failing_warnings: list[str] = Field(description="Warning-severity rules that fail.")
    evaluated_at: datetime


class CabinRead(BaseModel):
    id: uuid.UUID
    reference: str = Field(description="Public reference, CAB- + 8 characters.")
    operator_id: uuid.UUID
    operator_reference: str
    lifecycle: Lifecycle
    location: LocationRead
    venue: Venue
    opening_hours: str | None
    siting: Siting
    declarations: DeclarationsRead
    care_links: list[CareLink]
    provider: Provider | None
    fees: Fees | None
    accessibility: Accessibility
    last_confirmed_at: LastConfirmed
    is_demo: bool
    compliance: ComplianceBrief | None = Field(
        default=None,
        description="Evaluated in the same transaction as every write; details and evidence at"
        " /v1/cabins/{id}/compliance. Null until the cabin is first evaluated.",
    )
    version: int = Field(description="Bumped on every write; the ETag.")
    created_at: datetime
    updated_at: datetime


class CabinPage(BaseModel):
    items: list[CabinRead]
    next: str | None = Field(description="URL of the next page; null on the last page.")


class TransitionRequest(Input):
    to: Status = Field(description="Target status.")
    reason: Note | None = Field(
        default=None, description="Why; kept in the audit trail. May run over several lines (LF)."
    )
    date: Day | None = Field(
        default=None, description="Effective date (default today); never in the future."
    )


class AuditEventRead(BaseModel):
    id: int
    at: datetime
    actor: str
    actor_client_id: uuid.UUID | None
    action: str
    diff: dict[str, list[object]] = Field(description="{field path: [old, new]}")
    reason: str | None


class HistoryPage(BaseModel):
    items: list[AuditEventRead]
    next: str | None = Field(description="URL of the next page; null on the last page.")
