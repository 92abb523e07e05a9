"""The venue hosting the cabin: SIT-03 preferred care place (declared kind or FINESS
category), SIT-04 excluded commercial venues (kind and NAF lists), SIT-06 dedicated waiting
area outside care places."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator
from sqlalchemy import Select, and_, literal, or_, select, true
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.types import Text

from service.cabins.vocabulary import CARE_VENUE_KINDS, VENUE_KINDS
from service.rules.catalogue.base import (
    FAIL,
    NOT_APPLICABLE,
    PASS,
    UNKNOWN,
    RuleInput,
    RuleParams,
    rule,
)
from service.rules.catalogue.sqlkit import decide, jobj, tri, unset
from service.territories.models import HealthSite, Layer


def _known_kinds(kinds: list[str]) -> list[str]:
    unknown = sorted(set(kinds) - set(VENUE_KINDS))
    if unknown:
        raise ValueError(f"not venue kinds: {', '.join(unknown)}")
    return kinds


class Sit03Params(RuleParams):
    care_venue_types: list[str] = Field(
        default=list(CARE_VENUE_KINDS), description="Venue kinds that are care places."
    )
    care_venue_finess_categories: list[int] = Field(
        default=[620, 627, 124, 603, 611, 500],
        description="FINESS categories (categetab) that make the venue a care place.",
    )

    _kinds = field_validator("care_venue_types")(_known_kinds)


@rule("SIT-03", Sit03Params)
def care_place(inp: RuleInput) -> Select[Any]:
    c = inp.cabins.c
    p: Sit03Params = inp.params
    current = select(Layer.id).where(Layer.kind == "health_site", Layer.is_current)
    # A lateral lookup (index on finess), read once per cabin though used twice below.
    found = (
        select(HealthSite.category)
        .where(HealthSite.layer_id.in_(current), HealthSite.finess == c.venue_finess)
        .limit(1)
        .lateral("finess_site")
    )
    site = found.c.category
    care_kinds = array(p.care_venue_types or [""], type_=Text)
    care_categories = array(p.care_venue_finess_categories or [-1])
    kind_is_care = c.venue_kind == care_kinds.any_()
    finess_is_care = site == care_categories.any_()
    outcome, reason = decide(
        [
            (kind_is_care, PASS, "the venue kind is a care place"),
            (finess_is_care, PASS, "the venue's FINESS category is a care place"),
            (
                and_(c.venue_kind.is_(None), c.venue_finess.is_(None)),
                UNKNOWN,
                "neither the venue kind nor its FINESS number is given",
            ),
        ],
        (FAIL, "the venue is not a care place: SIT-06 and SIT-09 apply"),
    )
    return select(
        c.id.label("cabin_id"),
        outcome.label("outcome"),
        jobj(
            reason=reason,
            venue_kind=c.venue_kind,
            venue_finess=c.venue_finess,
            finess_category=site,
            care_venue_types=p.care_venue_types,
            care_venue_finess_categories=p.care_venue_finess_categories,
            missing=unset(("venue.kind", c.venue_kind)),
        ).label("evidence"),
    ).select_from(inp.cabins.outerjoin(found, true()))


class Sit04Params(RuleParams):
    excluded_kinds: list[str] = Field(
        default=["grande_surface", "centre_commercial", "gare_transport", "debit_de_boissons"],
        description="Venue kinds where a cabin may not be installed.",
    )
    excluded_naf: list[str] = Field(
        default=["47.11B", "47.11C", "47.11D", "47.11E", "47.11F", "47.19B", "52.21Z"],
        description="NAF rev. 2 codes of the venue where a cabin may not be installed.",
    )

    _kinds = field_validator("excluded_kinds")(_known_kinds)

    @field_validator("excluded_naf")
    @classmethod
    def _naf_codes(cls, codes: list[str]) -> list[str]:
        import re

        bad = [code for code in codes if not re.fullmatch(r"[0-9]{2}\.[0-9]{2}[A-Z]", code)]
        if bad:
            raise ValueError(f"not NAF rev. 2 codes (like 47.11F): {', '.join(bad)}")
        return codes


@rule("SIT-04", Sit04Params)
def excluded_venue(inp: RuleInput) -> Select[Any]:
    c = inp.cabins.c
    p: Sit04Params = inp.params
    kinds = array(p.excluded_kinds or [""], type_=Text)
    nafs = array(p.excluded_naf or [""], type_=Text)
    outcome, reason = decide(
        [
            (c.venue_kind == kinds.any_(), FAIL, "the venue kind is excluded"),
            (c.venue_naf == nafs.any_(), FAIL, "the venue's NAF code is excluded"),
            (
                and_(c.venue_kind.is_(None), c.venue_naf.is_(None)),
                UNKNOWN,
                "neither the venue kind nor its NAF code is given",
            ),
            (
                and_(c.venue_kind == "autre", c.venue_naf.is_(None)),
                UNKNOWN,
                "a venue of kind 'autre' needs its NAF code to be checked",
            ),
        ],
        (PASS, "neither the venue kind nor its NAF code is excluded"),
    )
    return select(
        c.id.label("cabin_id"),
        outcome.label("outcome"),
        jobj(
            reason=reason,
            venue_kind=c.venue_kind,
            venue_naf=c.venue_naf,
            excluded_kinds=p.excluded_kinds,
            excluded_naf=p.excluded_naf,
            missing=unset(("venue.kind", c.venue_kind), ("venue.naf", c.venue_naf)),
        ).label("evidence"),
    ).select_from(inp.cabins)


class Sit06Params(RuleParams):
    applies_when: Literal["not_care_venue", "always"] = Field(
        default="not_care_venue", description="Outside care places only, or everywhere."
    )
    care_venue_types: list[str] = Field(
        default=list(CARE_VENUE_KINDS), description="Venue kinds that are care places (SIT-03)."
    )

    _kinds = field_validator("care_venue_types")(_known_kinds)


@rule("SIT-06", Sit06Params)
def waiting_area(inp: RuleInput) -> Select[Any]:
    c = inp.cabins.c
    p: Sit06Params = inp.params
    dedicated = tri(c.siting, "waiting_area_dedicated")
    solicitation_free = tri(c.siting, "commercial_solicitation_free")
    exempt = (
        c.venue_kind == array(p.care_venue_types or [""], type_=Text).any_()
        if p.applies_when == "not_care_venue"
        else literal(False)
    )
    outcome, reason = decide(
        [
            (exempt, NOT_APPLICABLE, "the venue is a care place"),
            (dedicated.is_(False), FAIL, "there is no dedicated waiting area"),
            (
                solicitation_free.is_(False),
                FAIL,
                "the waiting area is exposed to commercial solicitation",
            ),
            (
                or_(dedicated.is_(None), solicitation_free.is_(None)),
                UNKNOWN,
                "the waiting area is not described",
            ),
        ],
        (PASS, "a dedicated waiting area, free of commercial solicitation"),
    )
    return select(
        c.id.label("cabin_id"),
        outcome.label("outcome"),
        jobj(
            reason=reason,
            venue_kind=c.venue_kind,
            waiting_area_dedicated=dedicated,
            commercial_solicitation_free=solicitation_free,
            applies_when=p.applies_when,
            missing=unset(
                ("siting.waiting_area_dedicated", dedicated),
                ("siting.commercial_solicitation_free", solicitation_free),
            ),
        ).label("evidence"),
    ).select_from(inp.cabins)
