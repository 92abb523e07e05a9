"""Pydantic models of the rule engine's API and rule-set files: a rule set as written
(`RuleSetSpec`, the repository file), a new version derived from another (`RuleSetCreate`),
their read shapes, a cabin's compliance, the what-if check and an evaluation report."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from service.cabins.schemas import (
    Accessibility,
    Address,
    CareLink,
    Declarations,
    Fees,
    Input,
    Insee,
    OpeningHours,
    Provider,
    Siting,
    Venue,
    VenueKind,
)
from service.patterns import MULTI_LINE, ONE_LINE, pattern

Basis = Literal["text", "reco", "project"]
Severity = Literal["error", "warning"]
Outcome = Literal["pass", "fail", "unknown", "not_applicable"]
RuleCode = Annotated[
    str, StringConstraints(pattern=pattern(r"^SIT-[0-9]{2}$", "a rule code such as SIT-04"))
]
VERSION = pattern(
    r"^[0-9]{4}\.(0|[1-9][0-9]{0,2})$",
    "a version such as 2026.2 (the year, a dot, a number without a leading zero)",
)
Version = Annotated[str, StringConstraints(pattern=VERSION)]
RegionCode = Annotated[
    str,
    StringConstraints(pattern=pattern(r"^[0-9]{2}$", "an INSEE région code of 2 digits, e.g. 84")),
]
Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300, pattern=ONE_LINE)
]
LongText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=4000, pattern=MULTI_LINE),
]
ProfileName = Annotated[
    str,
    StringConstraints(
        pattern=pattern(
            r"^[a-z0-9][a-z0-9_-]{0,63}$",
            "a name of lower-case letters, digits, - and _ (64 at most)",
        )
    ),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RuleSpec(Strict):
    code: RuleCode
    title: Title
    basis: Basis = Field(
        description="text: a binding text; reco: an official recommendation;"
        " project: the project's own reading or numbers."
    )
    sources: list[Annotated[str, StringConstraints(max_length=16)]] = Field(
        max_length=30, description="Fact ids of domain-rules.md (A3, D3, …)."
    )
    severity: Severity
    parameters: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True
    description: LongText


class ProfileRule(Strict):
    severity: Severity | None = None
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="Parameters replaced for the profile's régions."
    )


class Profile(Strict):
    """A regional profile: overrides of some rules' parameters or severity in some régions."""

    name: ProfileName
    regions: list[RegionCode] = Field(min_length=1, max_length=20)
    rules: dict[RuleCode, ProfileRule] = Field(min_length=1)


class RuleSetSpec(Strict):
    """A whole rule set, as kept in the repository (service/rules/rulesets/*.yaml)."""

    version: Version
    title: Title
    description: LongText | None = None
    profiles: list[Profile] = Field(default_factory=list, max_length=30)
    rules: list[RuleSpec] = Field(min_length=1, max_length=100)


class RuleChange(Strict):
    """Changes to one rule in a new version; parameters are merged key by key."""

    title: Title | None = None
    severity: Severity | None = None
    enabled: bool | None = None
    parameters: dict[str, Any] | None = None
    description: LongText | None = None


class RuleSetCreate(Strict):
    """A new draft version derived from an existing one (default: the one in force)."""

    version: Version = Field(description="The new version, e.g. 2026.2.")
    title: Title
    description: LongText | None = None
    based_on: Version | None = Field(
        default=None, description="Version to start from; default the rule set in force."
    )
    rules: dict[RuleCode, RuleChange] = Field(default_factory=dict)
    profiles: list[Profile] | None = Field(
        default=None, description="Regional profiles; default those of `based_on`."
    )


class RuleRead(BaseModel):
    code: str
    title: str
    basis: Basis
    sources: list[str]
    severity: Severity
    enabled: bool
    parameters: dict[str, Any]
    parameters_schema: dict[str, Any] | None = Field(
        description="JSON Schema of the parameters (null while the rule is not implemented)."
    )
    implemented: bool
    family: str | None
    description: str


class RuleSetSummary(BaseModel):
    version: str
    title: str
    status: Literal["draft", "published", "retired"]
    valid_from: date | None
    valid_to: date | None
    published_at: datetime | None


class RuleSetRead(RuleSetSummary):
    description: str | None
    profiles: list[Profile]
    rules: list[RuleRead]


class RuleSetList(BaseModel):
    items: list[RuleSetSummary]
    in_force: str | None = Field(description="Version in force now.")


class RuleReportRead(BaseModel):
    changed: int = Field(description="Cabins whose outcome changed.")
    first: int = Field(description="Cabins evaluated by the rule for the first time.")
    rewritten: int = Field(description="Verdicts rewritten (outcome or evidence changed).")


class RetiredReportRead(BaseModel):
    removed: int = Field(description="Verdicts removed: the rule is no longer enabled.")
    failing: int = Field(description="Of which failed (their cabins' compliance may change).")


class BeforeAfter(BaseModel):
    before: int
    after: int


class EvaluationReportRead(BaseModel):
    rule_set_version: str | None
    rules: dict[str, RuleReportRead]
    retired: dict[str, RetiredReportRead] = Field(
        description="Rules no longer enabled whose verdicts the pass removed."
    )
    compliance: dict[str, BeforeAfter] = Field(
        description="A publication's cabins per compliance status (compliant, non_compliant,"
        " incomplete), before and after it; empty for another pass."
    )
    unimplemented: list[str]
    seconds: float


class PublishResult(BaseModel):
    rule_set: RuleSetSummary = Field(
        description="The rule set as it now is (a dry run: as it stays)."
    )
    evaluation: EvaluationReportRead
    dry_run: bool = Field(description="True when nothing was written (`dry_run=true`).")


class VerdictRead(BaseModel):
    rule_code: str
    title: str | None
    severity: Severity
    outcome: Outcome
    evidence: dict[str, Any]
    failing_since: datetime | None
    changed_at: datetime | None = Field(description="When the outcome last changed.")
    rule_set_version: str
    profile: str | None


class ComplianceRead(BaseModel):
    cabin_id: uuid.UUID
    at: date | None = Field(description="The as-of date asked for; null for now.")
    rule_set_version: str | None = Field(description="Rule set in force at that time.")
    compliance_status: Literal["compliant", "non_compliant", "incomplete"] | None
    accessibility_label: Literal["accessible", "partial", "not_accessible", "unknown"] | None
    failing_errors: list[str]
    unknown_errors: list[str]
    failing_warnings: list[str]
    verdicts: list[VerdictRead]


# --- the what-if check: the create body, every block optional ------------------------------


class CandidateLocation(Input):
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    declared_insee: Insee | None = None
    address: Address = Field(default_factory=Address)


class CandidateVenue(Venue):
    kind: VenueKind | None = None  # type: ignore[assignment]


class SitingCheck(Input):
    """A candidate cabin: the body of `POST /v1/cabins`, as partial as you like. Nothing is
    stored; every rule of the rule set in force is evaluated against it."""

    status: Literal["draft", "declared", "active"] = Field(
        default="active", description="Lifecycle status to evaluate the candidate as."
    )
    service_start_date: date | None = None
    location: CandidateLocation = Field(default_factory=CandidateLocation)
    venue: CandidateVenue = Field(default_factory=CandidateVenue)
    opening_hours: OpeningHours | None = None
    siting: Siting = Field(default_factory=Siting)
    declarations: Declarations = Field(default_factory=Declarations)
    care_links: list[CareLink] = Field(default_factory=list, max_length=20)
    provider: Provider | None = None
    fees: Fees | None = None
    accessibility: Accessibility = Field(default_factory=Accessibility)


class CheckVerdict(BaseModel):
    rule_code: str
    title: str
    severity: Severity
    outcome: Outcome
    evidence: dict[str, Any]
    missing: list[str] = Field(description="What to give to decide an `unknown` outcome.")


class SitingCheckResult(BaseModel):
    rule_set_version: str | None
    compliance_status: Literal["compliant", "non_compliant", "incomplete"] | None
    commune: dict[str, Any] | None = Field(description="The commune under the point, if any.")
    verdicts: list[CheckVerdict]
