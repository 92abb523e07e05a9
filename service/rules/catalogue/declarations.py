"""Declarations (roadmap A3): SIT-01 prior declaration to the ARS, SIT-02 CPAM and CPTS
informed. Both read the cabin's declaration dates; SIT-02 also reads the CPTS layer that
answers for the cabin's région."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from sqlalchemy import Select, and_, case, func, literal, select, true
from sqlalchemy.dialects.postgresql import JSONB, aggregate_order_by
from sqlalchemy.dialects.postgresql import array as pg_array

from service.rules.catalogue.base import (
    FAIL,
    NOT_APPLICABLE,
    PASS,
    UNKNOWN,
    RuleInput,
    RuleParams,
    rule,
)
from service.rules.catalogue.sqlkit import Check, decide, jobj, unset
from service.territories.models import Cpts
from service.territories.queries import answering_layers


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
        jobj(
            reason=reason,
            ars_declaration_date=c.ars_declaration_date,
            ars_declaration_reference=c.ars_declaration_reference,
            service_start_date=c.service_start_date,
            latest_allowed_date=deadline,
            declaration_lead_days=p.declaration_lead_days,
            addressee=p.declaration_addressee,
            addressee_region=c.region_code,
            missing=unset(
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
    # The CPTS layer that answers for the cabin's région (its official list once imported,
    # else the national one): covered when the commune is a member of one of its territories,
    # not covered when it is in none, unknown when no layer answers for the région.
    answering = answering_layers("cpts", "sit02_answering")
    by_commune = _cpts_by_commune(inp)
    covering = by_commune.c.covering
    coverage = case(
        (c.commune_insee.is_(None), literal("unknown")),
        (covering.is_not(None), literal("covered")),
        (answering.c.layer_id.is_not(None), literal("not_covered")),
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
        .select_from(
            inp.cabins.outerjoin(answering, answering.c.region == c.region_code).outerjoin(
                by_commune,
                and_(
                    by_commune.c.insee == c.commune_insee,
                    by_commune.c.layer_id == answering.c.layer_id,
                ),
            )
        )
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
        else_=unset(("declarations.cpam_informed_date", b.cpam_informed_date)),
    )
    return select(
        b.cabin_id,
        outcome.label("outcome"),
        jobj(
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


def _cpts_by_commune(inp: RuleInput) -> Any:
    """(insee, layer_id, covering): the CPTS whose members include each commune of these
    cabins, per CPTS layer answering for a région, as a JSON array ordered by CPTS id; the
    caller keeps the row of the layer answering for the cabin's région. For a few cabins, one
    probe per commune of the GIN index on `cpts.member_insee`, in the layer of its région; for
    many, every territory of those layers unnested once and aggregated by commune for a hash
    join (a probe per commune would cost more)."""
    c = inp.cabins.c
    answering = answering_layers("cpts", "sit02_layers")
    if inp.few:
        distinct = (
            select(c.commune_insee, answering.c.layer_id)
            .select_from(inp.cabins.join(answering, answering.c.region == c.region_code))
            .where(c.commune_insee.is_not(None))
            .distinct()
            .subquery("sit02_communes")
        )
        found = (
            select(
                func.jsonb_agg(
                    aggregate_order_by(_cpts_json(Cpts), Cpts.cpts_id, Cpts.id), type_=JSONB
                ).label("covering")
            )
            .where(
                Cpts.layer_id == distinct.c.layer_id,
                Cpts.member_insee.op("@>")(pg_array([distinct.c.commune_insee])),
            )
            .lateral("cpts_found")
        )
        return (
            select(distinct.c.commune_insee.label("insee"), distinct.c.layer_id, found.c.covering)
            .select_from(distinct.join(found, true()))
            .where(found.c.covering.is_not(None))
            .subquery("cpts_by_commune")
        )
    communes = select(c.commune_insee).where(c.commune_insee.is_not(None))
    members = (
        select(
            func.unnest(Cpts.member_insee).label("insee"),
            Cpts.layer_id,
            Cpts.id,
            Cpts.cpts_id,
            Cpts.name,
            Cpts.vintage,
        )
        .where(Cpts.layer_id.in_(select(answering.c.layer_id)))
        .subquery("cpts_member")
    )
    return (
        select(
            members.c.insee,
            members.c.layer_id,
            func.jsonb_agg(
                aggregate_order_by(_cpts_json(members.c), members.c.cpts_id, members.c.id),
                type_=JSONB,
            ).label("covering"),
        )
        # only the communes of these cabins are aggregated
        .where(members.c.insee.in_(communes))
        .group_by(members.c.insee, members.c.layer_id)
        .subquery("cpts_by_commune")
    )


def _cpts_json(cpts: Any) -> Any:
    return func.jsonb_build_object("id", cpts.cpts_id, "name", cpts.name, "vintage", cpts.vintage)
