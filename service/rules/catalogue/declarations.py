"""Declarations (roadmap A3): SIT-01 prior declaration to the ARS, SIT-02 CPAM and CPTS
informed. Both read the cabin's declaration dates; SIT-02 also reads the current CPTS layer."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from sqlalchemy import Select, and_, case, func, literal, select
from sqlalchemy.dialects.postgresql import JSONB

from service.rules.catalogue.base import (
    FAIL,
    NOT_APPLICABLE,
    PASS,
    UNKNOWN,
    RuleInput,
    RuleParams,
    rule,
)
from service.rules.catalogue.sql import Check, decide, evidence, missing
from service.territories.models import Cpts, Layer


class Sit01Params(RuleParams):
    declaration_lead_days: int = Field(
        default=0, ge=0, le=365, description="Minimum days between the declaration and opening."
    )
    declaration_addressee: Literal["ars_of_cabin_region", "ars_of_operator_hq"] = Field(
        default="ars_of_cabin_region", description="Which ARS receives the declaration."
    )


@rule("SIT-01", Sit01Params)
def prior_declaration(inp: RuleInput) -> Select[Any]:
    c = inp.cabins.c
    p: Sit01Params = inp.params
    deadline = c.service_start_date - p.declaration_lead_days
    late = and_(c.service_start_date.is_not(None), c.ars_declaration_date > deadline)
    outcome, reason = decide(
        [
            (c.status == "decommissioned", NOT_APPLICABLE, "the cabin is decommissioned"),
            (c.ars_declaration_date.is_(None), FAIL, "no ARS declaration is recorded"),
            (
                c.ars_declaration_reference.is_(None),
                FAIL,
                "the ARS declaration has no reference",
            ),
            (late, FAIL, "the ARS declaration is dated after the latest allowed date"),
            (
                and_(
                    c.region_code.is_(None),
                    literal(p.declaration_addressee == "ars_of_cabin_region"),
                ),
                UNKNOWN,
                "the cabin's région, hence the ARS to declare to, is not known",
            ),
        ],
        (PASS, "the ARS declaration is recorded in time"),
    )
    return select(
        c.id.label("cabin_id"),
        outcome.label("outcome"),
        evidence(
            reason=reason,
            ars_declaration_date=c.ars_declaration_date,
            ars_declaration_reference=c.ars_declaration_reference,
            service_start_date=c.service_start_date,
            latest_allowed_date=deadline,
            declaration_lead_days=p.declaration_lead_days,
            addressee=p.declaration_addressee,
            addressee_region=c.region_code,
            missing=missing(
                ("declarations.ars_declaration_date", c.ars_declaration_date),
                ("declarations.ars_declaration_reference", c.ars_declaration_reference),
                ("location (a point inside a commune)", c.region_code),
            ),
        ).label("evidence"),
    ).select_from(inp.cabins)


class Sit02Params(RuleParams):
    require_cpts_info_when_covered: bool = Field(
        default=True, description="The covering CPTS must be informed too."
    )
    info_before_start_days: int = Field(
        default=0, ge=0, le=365, description="Days before the service start by which to inform."
    )


@rule("SIT-02", Sit02Params)
def cpam_cpts_informed(inp: RuleInput) -> Select[Any]:
    c = inp.cabins.c
    p: Sit02Params = inp.params
    # The CPTS covering each commune, aggregated once per commune for a hash join (a
    # correlated lookup per cabin would unnest every territory again for each cabin).
    current_cpts = select(Layer.id).where(Layer.kind == "cpts", Layer.is_current)
    members = (
        select(
            func.unnest(Cpts.member_insee).label("insee"),
            Cpts.cpts_id,
            Cpts.name,
            Cpts.vintage,
        )
        .where(Cpts.layer_id.in_(current_cpts))
        .subquery("cpts_member")
    )
    by_commune = (
        select(
            members.c.insee,
            func.jsonb_agg(
                func.jsonb_build_object(
                    "id", members.c.cpts_id, "name", members.c.name, "vintage", members.c.vintage
                ),
                type_=JSONB,
            ).label("covering"),
        )
        # only the communes of these cabins (one on a write) are aggregated
        .where(members.c.insee.in_(select(c.commune_insee).where(c.commune_insee.is_not(None))))
        .group_by(members.c.insee)
        .subquery("cpts_by_commune")
    )
    covering = by_commune.c.covering
    layer_loaded = select(current_cpts.exists()).scalar_subquery()
    coverage = case(
        (c.commune_insee.is_(None), literal("unknown")),
        (covering.is_not(None), literal("covered")),
        (layer_loaded, literal("not_covered")),
        else_=literal("unknown"),
    )
    deadline = c.service_start_date - p.info_before_start_days
    base = (
        select(
            c.id.label("cabin_id"),
            c.status,
            c.cpam_informed_date,
            c.cpts_informed_date,
            c.service_start_date,
            c.departement_code,
            deadline.label("deadline"),
            coverage.label("coverage"),
            covering.label("covering"),
        )
        .select_from(inp.cabins.outerjoin(by_commune, by_commune.c.insee == c.commune_insee))
        .subquery("sit02")
    )
    b = base.c
    started = b.service_start_date.is_not(None)
    checks: list[Check] = [
        (b.status == "decommissioned", NOT_APPLICABLE, "the cabin is decommissioned"),
        (b.cpam_informed_date.is_(None), FAIL, "the CPAM has not been informed"),
        (
            and_(started, b.cpam_informed_date > b.deadline),
            FAIL,
            "the CPAM was informed after the latest allowed date",
        ),
    ]
    if p.require_cpts_info_when_covered:
        checks += [
            (
                and_(b.coverage == "covered", b.cpts_informed_date.is_(None)),
                FAIL,
                "the commune is in a CPTS territory and that CPTS has not been informed",
            ),
            (
                and_(b.coverage == "covered", started, b.cpts_informed_date > b.deadline),
                FAIL,
                "the CPTS was informed after the latest allowed date",
            ),
            (
                and_(b.coverage == "unknown", b.cpts_informed_date.is_(None)),
                UNKNOWN,
                "no CPTS layer says whether the commune is covered, and no CPTS was informed",
            ),
        ]
    outcome, reason = decide(checks, (PASS, "the CPAM and, where needed, the CPTS were informed"))
    unknown_missing = case(
        (
            and_(b.coverage == "unknown", b.cpts_informed_date.is_(None)),
            func.jsonb_build_array("declarations.cpts_informed_date", "layer:cpts"),
        ),
        else_=missing(("declarations.cpam_informed_date", b.cpam_informed_date)),
    )
    return select(
        b.cabin_id,
        outcome.label("outcome"),
        evidence(
            reason=reason,
            cpam_informed_date=b.cpam_informed_date,
            cpam_departement=b.departement_code,
            cpts_informed_date=b.cpts_informed_date,
            cpts_coverage=b.coverage,
            covering_cpts=b.covering,
            service_start_date=b.service_start_date,
            info_before_start_days=p.info_before_start_days,
            missing=unknown_missing,
        ).label("evidence"),
    )
