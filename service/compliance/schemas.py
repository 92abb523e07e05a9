"""Pydantic shapes of the regulator views: compliance rows, summaries, coverage, the change
feed and the ARS's record of a received declaration."""

from __future__ import annotations

import datetime as dt
import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.patterns import VISIBLE_TEXT

SummaryBy = Literal["region", "departement", "commune", "operator", "rule"]
CoverageBy = Literal["departement", "commune"]


class FailingVerdict(BaseModel):
    rule: str = Field(description="Rule code, e.g. SIT-03.")
    severity: str = Field(description="error or warning, as applied to this cabin.")
    failing_since: datetime | None = Field(description="Since when the rule has failed.")
    evidence: dict[str, Any] = Field(
        description="What the rule measured: value, threshold, distance, the layer row used."
    )


class ComplianceCabin(BaseModel):
    id: uuid.UUID
    reference: str
    operator_id: uuid.UUID
    operator_name: str
    operator_reference: str
    status: str = Field(description="Lifecycle status.")
    venue_kind: str
    venue_name: str | None
    commune_insee: str | None
    commune_name: str | None
    departement_code: str | None
    region_code: str | None
    epci_siren: str | None
    lon: float
    lat: float
    compliance_status: str | None = Field(
        description="compliant, non_compliant or incomplete; null when not yet evaluated."
    )
    accessibility_label: str | None
    failing: list[FailingVerdict] = Field(description="The rules the cabin fails, with evidence.")
    unknown_rules: list[str] = Field(
        description="Error rules that cannot be decided (data missing)."
    )
    ars_declaration_date: date | None
    ars_declaration_reference: str | None
    ars_received_date: date | None
    evaluated_at: datetime | None


class ComplianceCabinPage(BaseModel):
    items: list[ComplianceCabin]
    next: str | None = Field(description="URL of the next page; null on the last one.")


class SummaryGroup(BaseModel):
    key: str | None = Field(
        description="Région / département / commune code, operator id or rule code; null for"
        " cabins whose territory could not be derived."
    )
    name: str | None
    cabins: int = Field(description="Cabins in the group (for by=rule: cabins with a verdict).")
    compliant: int = Field(description="For by=rule: verdicts that pass.")
    non_compliant: int = Field(description="For by=rule: verdicts that fail.")
    incomplete: int = Field(description="For by=rule: verdicts unknown (data missing).")
    not_evaluated: int = Field(description="Cabins with no derived compliance yet.")
    rate: float | None = Field(
        description="compliant / cabins (for by=rule: pass / (pass + fail + unknown)); null"
        " when the denominator is 0."
    )
    failures: dict[str, int] = Field(description="Cabins failing each rule (error or warning).")
    outcomes: dict[str, int] | None = Field(
        default=None, description="For by=rule: verdicts per outcome."
    )


class Summary(BaseModel):
    by: SummaryBy
    rule_set_version: str | None = Field(description="The rule set in force.")
    total: SummaryGroup = Field(
        description="The cabins in scope matching the filters, by compliance (the same whatever"
        " `by`); for by=rule, `outcomes` holds the verdicts of every rule together."
    )
    groups: list[SummaryGroup]


class CoverageGroup(BaseModel):
    code: str
    name: str | None
    communes: int
    communes_beyond: int = Field(description="Communes whose population point is beyond reach.")
    population: int
    population_beyond: int = Field(
        description="Inhabitants placed farther than the radius from any active accessible cabin."
    )
    share_beyond: float | None = Field(description="population_beyond / population.")
    accessible_cabins: int = Field(description="Active accessible cabins located in the group.")


class UnderservedCommune(BaseModel):
    insee: str
    name: str
    departement: str
    region: str
    population: int | None
    zone: Literal["ZIP", "ZAC"]
    zoning_synthetic: bool = Field(description="True when the zoning layer is synthetic (demo).")
    accessible_cabin_within_radius: bool


class Coverage(BaseModel):
    by: CoverageBy
    radius_km: float
    population_placement: str = Field(
        description="How each commune's population is placed for the distance test."
    )
    cabins_counted: str = Field(description="Which cabins count as serving the population.")
    population_vintage: str | None = Field(description="Vintage of the commune layer used.")
    total: CoverageGroup
    groups: list[CoverageGroup]
    communes_without_point: int = Field(
        description="Communes with no population point (left out of the figures)."
    )
    underserved: list[UnderservedCommune] = Field(
        description="Communes in a ZIP or ZAC of the current medical zoning with no active"
        " cabin located in them, most populated first."
    )
    underserved_total: int = Field(
        description="How many communes are under-served, listed or not (`underserved` stops at"
        " `underserved_limit`)."
    )
    medical_zoning: list[dict[str, Any]] = Field(
        description="The current medical zoning layers used: vintage, scope, source, synthetic."
    )


ChangeKind = Literal["verdict", "left_scope", "entered_scope"]


class FeedVerdict(BaseModel):
    rule_code: str
    outcome: str
    severity: str
    evidence: dict[str, Any]
    rule_set_version: str
    changed_at: datetime = Field(
        description="When the feed gave this outcome, or this severity when it changed alone."
    )


class Change(BaseModel):
    id: int = Field(
        description="The item's number, unique. Not a cursor: the feed does not always come"
        " in this order; pass `next_cursor` as `since`."
    )
    kind: ChangeKind = Field(
        default="verdict",
        description="`verdict`: a rule's outcome or severity changed for the cabin (the rule"
        " and outcome fields are set; a severity changed alone, by a rule set's publication,"
        " has the same `old_outcome` and `new_outcome`, and the new `severity`). For a regional"
        " regulator only: `left_scope`, the cabin moved out of its région (no verdict of it"
        " follows until it comes back: drop it), and `entered_scope`, the cabin moved into its"
        " région, with `verdicts`; on both the rule and outcome fields are null and"
        " `old_region_code` / `new_region_code` say the move.",
    )
    cabin_id: uuid.UUID
    cabin_reference: str
    region_code: str | None = Field(
        description="The cabin's région now; null in a regional regulator's feed once the"
        " cabin is outside its région (its `left_scope` item says where it went)."
    )
    departement_code: str | None = Field(
        description="The cabin's département now; null as `region_code` is."
    )
    commune_insee: str | None = Field(
        description="The cabin's commune now; null as `region_code` is."
    )
    rule_code: str | None = Field(description="Null on a `left_scope` / `entered_scope` item.")
    old_outcome: str | None = Field(description="Null on a cabin's first evaluation.")
    new_outcome: str | None = Field(description="Null on a `left_scope` / `entered_scope` item.")
    severity: str | None
    evidence: dict[str, Any] | None
    rule_set_version: str | None
    changed_at: datetime
    old_region_code: str | None = Field(
        default=None, description="The région the cabin left (scope items only)."
    )
    new_region_code: str | None = Field(
        default=None, description="The région the cabin entered (scope items only)."
    )
    verdicts: list[FeedVerdict] | None = Field(
        default=None,
        description="On `entered_scope` only: the cabin's verdicts as the feed gave them"
        " before it moved (per rule, its latest outcome), what a copy kept from the feed holds"
        " for it; the changes after the move follow as `verdict` items.",
    )


class ChangePage(BaseModel):
    items: list[Change]
    next_cursor: str = Field(
        description="Opaque: pass it as `since` to get what comes after; the same place as"
        " `since` when nothing new has happened."
    )
    has_more: bool = Field(description="True when more changes are waiting right now.")


class DeclarationReceipt(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reference: str = Field(
        min_length=1,
        max_length=200,
        pattern=VISIBLE_TEXT,
        description="The ARS's reference (receipt number) for the declaration.",
    )
    date: dt.date = Field(description="When the ARS received the declaration.")


class DeclarationReceiptRead(BaseModel):
    cabin_id: uuid.UUID
    reference: str = Field(description="The cabin's public reference.")
    ars_declaration_reference: str | None
    ars_received_date: date | None
    version: int = Field(description="The cabin's new version (its ETag).")
    compliance_status: str | None
