"""The what-if check: a candidate cabin (a partial create body) evaluated against the rule set
in force without storing anything — the candidate is a one-row SELECT of literals typed like
the `cabin` table, so each rule's statement runs over it exactly as over stored cabins."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import FromClause, cast, func, literal, null, select
from sqlalchemy.orm import Session

from service.cabins.models import Cabin
from service.cabins.records import described_columns
from service.cabins.vocabulary import CONFIRMED_BLOCKS
from service.rules import plan as planning
from service.rules.catalogue.base import RuleInput
from service.rules.evaluator import now
from service.rules.models import RuleSet
from service.rules.queries import derive_status, rules_of
from service.rules.schemas import SitingCheck
from service.territories import queries as territories
from service.timespans import today


def candidate_columns(session: Session, body: SitingCheck) -> tuple[dict[str, Any], Any]:
    """Column values of the candidate, with the commune derived from the point."""
    loc = body.location
    commune = None
    if loc.lon is not None and loc.lat is not None:
        commune = territories.commune_at_point(session, loc.lon, loc.lat)
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "status": body.status,
        "service_start_date": body.service_start_date,
        "commune_insee": commune.insee if commune else None,
        "departement_code": commune.departement if commune else None,
        "region_code": commune.region if commune else None,
        "epci_siren": commune.epci if commune else None,
        "commune_vintage": commune.vintage if commune else None,
        **described_columns(body),
    }
    # A candidate is evaluated as freshly confirmed (SIT-20).
    confirmed = now()
    for block in CONFIRMED_BLOCKS:
        values[f"{block}_confirmed_at"] = confirmed
    return values, commune


def candidate_selectable(
    values: dict[str, Any], lon: float | None, lat: float | None
) -> FromClause:
    """One row with every column of `cabin`, typed as in the table."""
    columns = []
    for column in Cabin.__table__.columns:
        if column.name == "geom":
            point = (
                func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326, type_=column.type)
                if lon is not None and lat is not None
                else cast(null(), column.type)
            )
            columns.append(point.label("geom"))
            continue
        value = values.get(column.name)
        expression = (
            cast(null(), column.type)
            if value is None
            else cast(literal(value, column.type), column.type)
        )
        columns.append(expression.label(column.name))
    return select(*columns).subquery("cabins")


def check(session: Session, body: SitingCheck, rule_set: RuleSet | None = None) -> dict[str, Any]:
    """The candidate judged by the rule set in force, or by `rule_set` (any version: a draft
    is tried before it is published)."""
    rule_set = rule_set or planning.in_force(session)
    values, commune = candidate_columns(session, body)
    commune_info = (
        {
            "insee": commune.insee,
            "name": commune.name,
            "departement": commune.departement,
            "region": commune.region,
            "vintage": commune.vintage,
        }
        if commune
        else None
    )
    if rule_set is None:
        return {
            "rule_set_version": None,
            "compliance_status": None,
            "commune": commune_info,
            "verdicts": [],
        }
    plan = planning.build(session, rule_set)
    rules = {r.code: r for r in rules_of(session, rule_set.version)}
    cabins = candidate_selectable(values, body.location.lon, body.location.lat)
    region = values["region_code"]
    at = now()
    verdicts: list[dict[str, Any]] = []
    for run in plan.runs:
        applies = (
            run.regions is not None and region in run.regions
            if run.profile is not None
            else region not in run.excluded
        )
        if not applies:
            continue
        row = session.execute(
            run.definition.implementation(
                RuleInput(cabins=cabins, params=run.params, at=today(at), few=True)
            )
        ).one()
        evidence = dict(row.evidence or {})
        if run.profile is not None:
            evidence["profile"] = run.profile
        missing = evidence.get("missing") if row.outcome == "unknown" else None
        verdicts.append(
            {
                "rule_code": run.code,
                "title": rules[run.code].title,
                "severity": run.severity,
                "outcome": row.outcome,
                "evidence": evidence,
                "missing": [str(m) for m in missing] if isinstance(missing, list) else [],
            }
        )
    for code in plan.unimplemented:
        verdicts.append(
            {
                "rule_code": code,
                "title": rules[code].title,
                "severity": rules[code].severity,
                "outcome": "unknown",
                "evidence": {"reason": "the rule is not implemented yet"},
                "missing": [],
            }
        )
    verdicts.sort(key=lambda v: v["rule_code"])
    return {
        "rule_set_version": rule_set.version,
        "compliance_status": derive_status(session, verdicts)["compliance_status"],
        "commune": commune_info,
        "verdicts": verdicts,
    }
