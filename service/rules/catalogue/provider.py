"""SIT-14: the teleconsultation provider is lawful — a company employing doctors holds an
agrément valid on the evaluation date, and the provider SIRET holds its Luhn key."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from sqlalchemy import Date, Integer, Select, and_, case, cast, func, literal, null, select

from service.rules.catalogue.base import (
    FAIL,
    NOT_APPLICABLE,
    PASS,
    UNKNOWN,
    RuleInput,
    RuleParams,
    rule,
)
from service.rules.catalogue.sqlkit import (
    combine,
    fenced,
    jconst,
    jobj,
    missing,
    outcome,
    strip,
    txt,
)

# La Poste's establishments share one SIREN and are keyed differently (digit sum multiple of 5).
_LA_POSTE_SIREN = "356000000"
_LA_POSTE_HEAD_OFFICE = "35600000000048"  # keyed with Luhn like everyone else
# Kinds that are companies, so the record must give their SIRET.
_COMPANY_KINDS = ("company_employing_doctors", "platform_only")


class ProviderParams(RuleParams):
    agrement_validity_years: int = Field(default=2, ge=1, le=10)


def siret_is_valid(siret: Any) -> Any:
    """14 digits whose Luhn key holds (La Poste's
    establishments other than its head office: digit sum a multiple of 5); NULL when absent."""
    digits = [cast(func.substr(siret, i, 1), Integer) for i in range(1, 15)]
    # Luhn from the right: the 14th digit is not doubled, so the odd positions from the left are.
    luhn = sum(
        (d * 2 - case((d >= 5, 9), else_=0)) if i % 2 == 0 else d for i, d in enumerate(digits)
    )
    plain = sum(digits[1:], digits[0])
    return case(
        (siret.is_(None), null()),
        (~siret.regexp_match("^[0-9]{14}$"), literal(False)),
        (
            and_(func.substr(siret, 1, 9) == _LA_POSTE_SIREN, siret != _LA_POSTE_HEAD_OFFICE),
            plain % 5 == 0,
        ),
        else_=luhn % 10 == 0,
    )


@rule("SIT-14", ProviderParams)
def provider_lawful(inp: RuleInput) -> Select[Any]:
    p: ProviderParams = inp.params
    c = inp.cabins
    block = c.c.provider
    kind = txt(block, "kind")
    siret = txt(block, "siret")
    number = txt(block, "agrement_number")
    start = cast(txt(block, "agrement_start_date"), Date)
    declared_end = cast(txt(block, "agrement_end_date"), Date)
    at = literal(inp.at, Date)
    present = func.coalesce(func.jsonb_typeof(block), "null") == "object"
    raw = fenced(
        select(
            c.c.id.label("cabin_id"),
            present.label("present"),
            kind.label("kind"),
            siret.label("siret"),
            number.label("number"),
            start.label("start"),
            declared_end.label("declared_end"),
        ).select_from(c),
        "prov_raw",
    )
    r = raw.c
    inner = fenced(
        select(
            r.cabin_id,
            r.present,
            r.kind,
            r.siret,
            siret_is_valid(r.siret).label("siret_valid"),
            r.number,
            r.start,
            r.declared_end,
            cast(
                func.coalesce(
                    r.declared_end, r.start + func.make_interval(p.agrement_validity_years)
                ),
                Date,
            ).label("end"),
        ),
        "prov",
    )
    s = inner.c
    siret_part = outcome(
        (~s.present, UNKNOWN),
        (s.siret_valid, PASS),
        (~s.siret_valid, FAIL),
        (s.kind.in_(_COMPANY_KINDS), UNKNOWN),
        (s.kind.is_(None), UNKNOWN),
        else_=NOT_APPLICABLE,
    )
    agrement_part = outcome(
        (~s.present, UNKNOWN),
        (s.kind.is_(None), UNKNOWN),
        (s.kind != "company_employing_doctors", NOT_APPLICABLE),
        (s.number.is_(None), FAIL),
        (s.start.is_(None), UNKNOWN),
        (and_(s.start <= at, at <= s.end), PASS),
        else_=FAIL,
    )
    parts = (
        select(
            s.cabin_id,
            s.present,
            s.kind,
            s.siret,
            s.siret_valid,
            s.number,
            s.start,
            s.declared_end,
            s.end,
            siret_part.label("siret_outcome"),
            agrement_part.label("agrement_outcome"),
        )
        .select_from(inner)
        .offset(0)
        .subquery("prov_parts")
    )
    q = parts.c
    is_company = q.kind == "company_employing_doctors"
    evidence = strip(
        jobj(
            kind=q.kind,
            siret=jobj(value=q.siret, valid=q.siret_valid, outcome=q.siret_outcome),
            agrement=case(
                (
                    is_company,
                    jobj(
                        number=q.number,
                        start_date=q.start,
                        end_date=q.end,
                        end_from=case(
                            (q.declared_end.is_not(None), literal("declared")),
                            (q.start.is_not(None), literal("start + validity_years")),
                            else_=null(),
                        ),
                        validity_years=p.agrement_validity_years,
                        evaluated_on=at,
                        outcome=q.agrement_outcome,
                    ),
                ),
                else_=null(),
            ),
            sirene_checked=False,
            missing=func.nullif(
                missing(
                    (~q.present, "provider"),
                    (and_(q.present, q.kind.is_(None)), "provider.kind"),
                    (
                        and_(q.siret_outcome == UNKNOWN, q.present, q.kind.is_not(None)),
                        "provider.siret",
                    ),
                    (
                        and_(is_company, q.number.is_not(None), q.start.is_(None)),
                        "provider.agrement_start_date",
                    ),
                ),
                jconst([]),
            ),
        )
    )
    return select(
        q.cabin_id,
        combine(q.siret_outcome, q.agrement_outcome).label("outcome"),
        evidence.label("evidence"),
    )
