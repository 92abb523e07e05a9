"""The rule engine's API: rule sets (public read, admin create and publish), a cabin's
compliance now or as of a date, and the what-if siting check."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import ValidationError

from service.auth.deps import AdminPrincipal, AnyPrincipal, OperatorPrincipal
from service.cabins import queries as cabins
from service.db import DbSession
from service.errors import (
    NotFound,
    ValidationFailed,
    field_errors,
    invalid_parameter,
    problem_responses,
)
from service.routing import ApiRoute
from service.rules import catalogue, plan, queries, rulesets, whatif
from service.rules.models import RuleSet
from service.rules.schemas import (
    VERSION,
    ComplianceRead,
    PublishResult,
    RuleRead,
    RuleSetCreate,
    RuleSetList,
    RuleSetRead,
    RuleSetSummary,
    SitingCheck,
    SitingCheckResult,
)
from service.timespans import today

router = APIRouter(prefix="/v1", tags=["rules"], route_class=ApiRoute)

VersionPath = Annotated[str, Path(pattern=VERSION, description="Rule set version, e.g. 2026.1.")]


def _summary(rs: RuleSet) -> RuleSetSummary:
    return RuleSetSummary.model_validate(rs, from_attributes=True)


def _read(session: Any, rs: RuleSet) -> RuleSetRead:
    rules = []
    for r in queries.rules_of(session, rs.version):
        definition = catalogue.REGISTRY.get(r.code)
        rules.append(
            RuleRead(
                **rulesets.spec_of(r).model_dump(),
                parameters_schema=definition.params_model.model_json_schema()
                if definition
                else None,
                implemented=definition is not None,
                family=definition.family if definition else None,
            )
        )
    return RuleSetRead(
        **_summary(rs).model_dump(), description=rs.description, profiles=rs.profiles, rules=rules
    )


@router.get("/rule-sets", response_model=RuleSetList, summary="The rule sets, newest first")
def list_rule_sets(session: DbSession) -> RuleSetList:
    in_force = plan.in_force(session)
    return RuleSetList(
        items=[_summary(rs) for rs in queries.rule_sets(session)],
        in_force=in_force.version if in_force else None,
    )


@router.get(
    "/rule-sets/{version}",
    response_model=RuleSetRead,
    responses=problem_responses(400, 404),
    summary="One rule set: each rule's title, basis, sources, severity, parameters",
)
def read_rule_set(version: VersionPath, session: DbSession) -> RuleSetRead:
    rs = queries.rule_set(session, version)
    if rs is None:
        raise NotFound(f"No rule set {version}.")
    return _read(session, rs)


@router.post(
    "/rule-sets",
    status_code=201,
    response_model=RuleSetRead,
    responses=problem_responses(400, 401, 403, 409, 415, 422),
    summary="Create a draft version from another, with changed rules or profiles (admin)",
)
def create_rule_set(
    body: RuleSetCreate, session: DbSession, principal: AdminPrincipal
) -> RuleSetRead:
    rs = rulesets.derive(session, body, actor=principal.actor)
    return _read(session, rs)


def _published(rs: RuleSet, report: Any, *, dry_run: bool) -> PublishResult:
    return PublishResult.model_validate(
        {"rule_set": _summary(rs), "evaluation": report.as_dict(), "dry_run": dry_run}
    )


@router.post(
    "/rule-sets/{version}/publish",
    response_model=PublishResult,
    responses=problem_responses(400, 401, 403, 404, 409, 422),
    summary="Put a draft in force and re-evaluate every cabin (admin); `dry_run` to see first",
)
def publish_rule_set(
    version: VersionPath,
    session: DbSession,
    principal: AdminPrincipal,
    dry_run: Annotated[
        bool,
        Query(
            description="Evaluate every cabin under the draft and answer the same report,"
            " writing nothing: the set in force stays, the draft stays a draft. Cabin writes"
            " wait for it as for a publication."
        ),
    ] = False,
) -> PublishResult:
    rs, report = rulesets.publish(session, version, actor=principal.actor, dry_run=dry_run)
    return _published(rs, report, dry_run=dry_run)


@router.get(
    "/cabins/{cabin_id}/compliance",
    response_model=ComplianceRead,
    responses=problem_responses(400, 401, 404),
    summary="A cabin's verdicts with evidence and since when; `at` for a past date",
)
def cabin_compliance(
    cabin_id: uuid.UUID,
    session: DbSession,
    principal: AnyPrincipal,
    at: Annotated[
        date | None,
        Query(
            description="Answer as of the end of this day (YYYY-MM-DD, today at the latest),"
            " under the rule set then in force, for the région the cabin was in that day."
        ),
    ] = None,
) -> ComplianceRead:
    if at is not None and at > today():
        # No verdict of a day to come exists (and the calendar's last day has no end).
        raise invalid_parameter("at", f"{at} is in the future; today is {today()}")
    if at is None:
        if cabins.get_visible(session, principal, cabin_id) is None:
            raise NotFound("No such cabin.")
        in_force = plan.in_force(session)
        verdicts = queries.current_verdicts(session, cabin_id)
        stored = queries.compliance_of(session, cabin_id)
        status = (
            {
                "compliance_status": stored.compliance_status,
                "accessibility_label": stored.accessibility_label,
                "failing_errors": stored.failing_errors,
                "unknown_errors": stored.unknown_errors,
                "failing_warnings": stored.failing_warnings,
            }
            if stored
            else queries.derive_status(session, verdicts) | {"compliance_status": None}
        )
        version = in_force.version if in_force else None
    else:
        before = queries.end_of(at)
        # in scope and judged by the région the cabin was in that day, not the one it is in now
        then = queries.cabin_as_of(session, principal, cabin_id, before)
        if then is None:
            raise NotFound("No such cabin.")
        rs = queries.rule_set_in_force_at(session, before)
        verdicts = (
            queries.verdicts_as_of(session, cabin_id, rs.version, before, then.region_code)
            if rs
            else []
        )
        status = queries.derive_status(session, verdicts)
        if not verdicts:
            status |= {"compliance_status": None, "accessibility_label": None}
        version = rs.version if rs else None
    return ComplianceRead.model_validate(
        {
            "cabin_id": cabin_id,
            "at": at,
            "rule_set_version": version,
            **status,
            "verdicts": [dict(v) for v in verdicts],
        }
    )


async def strict_candidate(request: Request) -> SitingCheck:
    """The candidate read again in strict JSON mode: a fact is true, false or null and a
    measurement a number — lax mode would read 0 as false or "80" as 80, a guess."""
    try:
        return SitingCheck.model_validate_json(await request.body() or b"{}", strict=True)
    except ValidationError as error:
        raise ValidationFailed("The candidate is not valid.", errors=field_errors(error)) from None


@router.post(
    "/checks/siting",
    response_model=SitingCheckResult,
    responses=problem_responses(400, 401, 403, 415, 422),
    summary="What-if: evaluate a candidate cabin against the rules in force (or `rule_set`);"
    " nothing stored",
)
def check_siting(
    principal: OperatorPrincipal,  # first: without a valid key, a 401 before the body's 422
    body: SitingCheck,
    strict: Annotated[SitingCheck, Depends(strict_candidate)],
    session: DbSession,
    rule_set: Annotated[
        str | None,
        Query(
            pattern=VERSION,
            description="Judge by this version instead of the one in force (a draft, to try"
            " it before it is published; or a retired one).",
        ),
    ] = None,
) -> SitingCheckResult:
    chosen = None
    if rule_set is not None:
        chosen = queries.rule_set(session, rule_set)
        if chosen is None:
            raise invalid_parameter("rule_set", rulesets.no_rule_set(rule_set))
    return SitingCheckResult.model_validate(whatif.check(session, strict, chosen))
