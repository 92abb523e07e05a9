"""SIT-15: fee transparency — the record publishes a complete fee notice, shown on site, with
optional services flagged optional and, for agreed companies, no extra fee above the cap."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from sqlalchemy import Select, and_, case, func, null, select

from service.rules.catalogue.base import FAIL, PASS, UNKNOWN, RuleInput, RuleParams, rule
from service.rules.catalogue.sqlkit import (
    has,
    jconst,
    jlist,
    jobj,
    missing,
    num,
    outcome,
    strip,
    tri,
    txt,
)

FeeField = Literal[
    "base_fee_eur",
    "sector",
    "depassements_possible",
    "optional_services",
    "venue_access_fee_eur",
    "info_url",
    "shown_on_site",
]


class FeesParams(RuleParams):
    required_fee_fields: tuple[FeeField, ...] = (
        "base_fee_eur",
        "sector",
        "depassements_possible",
        "optional_services",
        "venue_access_fee_eur",
        "info_url",
    )
    max_extra_fee_eur_for_agreed: float = Field(default=0, ge=0)


@rule("SIT-15", FeesParams)
def fee_transparency(inp: RuleInput) -> Select[Any]:
    p: FeesParams = inp.params
    c = inp.cabins
    fees = c.c.fees
    present = func.coalesce(func.jsonb_typeof(fees), "null") == "object"
    services = jlist(fees, "optional_services")
    item = func.jsonb_array_elements(services).table_valued("value").alias("service")
    not_flagged = (
        select(func.jsonb_agg(txt(item.c.value, "name")))
        .select_from(item)
        .where(func.coalesce(tri(item.c.value, "optional"), False).is_(False))
        .scalar_subquery()
    )
    agreed = txt(c.c.provider, "kind") == "company_employing_doctors"
    inner = (
        select(
            c.c.id.label("cabin_id"),
            present.label("present"),
            missing(*((~has(fees, f), f) for f in p.required_fee_fields)).label("missing_fields"),
            not_flagged.label("not_flagged"),
            tri(fees, "shown_on_site").label("shown"),
            agreed.label("agreed"),
            num(fees, "venue_access_fee_eur").label("access_fee"),
        )
        .select_from(c)
        .offset(0)
        .subquery("fee_notice")
    )
    s = inner.c
    over_cap = and_(s.agreed, s.access_fee > p.max_extra_fee_eur_for_agreed)
    result = outcome(
        (~s.present, FAIL),
        (func.jsonb_array_length(s.missing_fields) > 0, FAIL),
        (s.not_flagged.is_not(None), FAIL),
        (over_cap, FAIL),
        (s.shown.is_(False), FAIL),
        (s.shown.is_(None), UNKNOWN),
        else_=PASS,
    )
    evidence = strip(
        jobj(
            notice_published=s.present,
            required_fields=list(p.required_fee_fields),
            missing_fields=case((s.present, s.missing_fields), else_=null()),
            services_not_flagged_optional=s.not_flagged,
            shown_on_site=s.shown,
            agreed_company=s.agreed,
            venue_access_fee_eur=s.access_fee,
            max_extra_fee_eur_for_agreed=case(
                (s.agreed, p.max_extra_fee_eur_for_agreed), else_=null()
            ),
            missing=case(
                (and_(s.present, s.shown.is_(None)), jconst(["fees.shown_on_site"])),
                (~s.present, jconst(["fees"])),
                else_=null(),
            ),
        )
    )
    return select(s.cabin_id, result.label("outcome"), evidence.label("evidence"))
