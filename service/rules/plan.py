"""What the evaluator runs: the rule set in force turned into one `RuleRun` per enabled rule
and parameter group (the default parameters, and one group per regional profile that changes
the rule), with parameters validated by each rule's params model."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.rules import catalogue
from service.rules.catalogue.base import RuleDefinition, RuleParams
from service.rules.models import Rule, RuleSet


@dataclass(frozen=True)
class RuleRun:
    code: str
    definition: RuleDefinition
    params: RuleParams
    severity: str
    profile: str | None
    """The regional profile applied; None for the national default."""
    regions: tuple[str, ...] | None
    """The régions this run covers (a profile); None = every région not in `excluded`."""
    excluded: tuple[str, ...] = ()

    @property
    def reach_m(self) -> float | None:
        """How far this run's verdicts depend on other cabins, from its own parameters (a
        profile may widen or narrow it); None when they do not."""
        reach = self.definition.reach
        return None if reach is None else float(reach(self.params))


@dataclass(frozen=True)
class Plan:
    version: str
    runs: list[RuleRun]
    codes: list[str]
    """Every enabled rule code (implemented or not)."""
    unimplemented: list[str] = field(default_factory=list)


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Parameters of a profile: the rule's parameters with the profile's keys replaced."""
    return {**base, **override}


def params_of(code: str, parameters: dict[str, Any]) -> RuleParams | None:
    """The validated parameters of an implemented rule (raises pydantic's ValidationError);
    None when the rule has no implementation yet. Read as JSON, strictly: a rule set stores
    its parameters as given, so "500" for a distance or 0 for a yes/no is refused, not read
    as 500 or false (a YAML date is read as its ISO text)."""
    definition = catalogue.REGISTRY.get(code)
    if definition is None:
        return None
    return definition.params_model.model_validate_json(
        json.dumps(parameters, default=str), strict=True
    )


# What evaluations read — the rule set in force, the current layer vintages — changes only
# while no cabin is being evaluated: a publication and every full pass (after a publication, a
# new layer vintage, or `registry rules reevaluate`) take this pg_advisory_xact_lock
# exclusively; a cabin write's evaluation holds it shared until its transaction ends. Else a
# cabin written during a publication could keep verdicts of the retired set, and a write during
# a full pass could be overwritten by a verdict computed before it. (A constant unique to this
# use.)
IN_FORCE_LOCK_KEY = 0x72756C655F736574  # "rule_set"


def hold_in_force(session: Session) -> None:
    """Keep the rule set in force from being replaced until the transaction ends (waiting
    for a publication or full pass under way first). Cabin evaluations hold it side by side."""
    session.execute(select(func.pg_advisory_xact_lock_shared(IN_FORCE_LOCK_KEY)))


def replace_in_force(session: Session) -> None:
    """Wait for the evaluations under way, and keep new ones waiting until this transaction
    (a publication, a full pass) ends."""
    session.execute(select(func.pg_advisory_xact_lock(IN_FORCE_LOCK_KEY)))


def in_force(session: Session, at: datetime | None = None) -> RuleSet | None:
    """The rule set in force now, or the one in force at `at` (the last published before)."""
    if at is None:
        return session.scalar(select(RuleSet).where(RuleSet.status == "published"))
    return session.scalar(
        select(RuleSet)
        .where(RuleSet.published_at.is_not(None), RuleSet.published_at <= at)
        .order_by(RuleSet.published_at.desc())
        .limit(1)
    )


# A published rule set never changes, so its plan is built once per process (keyed by the
# version and its publication time); this spares the two reads on every cabin write.
_PLANS: dict[tuple[str, datetime | None], Plan] = {}


def forget_plans() -> None:
    """Empties the cache (tests, whose rolled-back rule sets may come back with other rules)."""
    _PLANS.clear()


def build(session: Session, rule_set: RuleSet) -> Plan:
    key = (rule_set.version, rule_set.published_at)
    if rule_set.status != "draft" and key in _PLANS:
        return _PLANS[key]
    plan = _build(session, rule_set)
    if rule_set.status != "draft":
        _PLANS[key] = plan
    return plan


def _build(session: Session, rule_set: RuleSet) -> Plan:
    rules = session.scalars(
        select(Rule)
        .where(Rule.rule_set_version == rule_set.version, Rule.enabled)
        .order_by(Rule.code)
    ).all()
    profiles: list[dict[str, Any]] = list(rule_set.profiles or [])
    runs: list[RuleRun] = []
    unimplemented: list[str] = []
    for r in rules:
        definition = catalogue.REGISTRY.get(r.code)
        if definition is None:
            unimplemented.append(r.code)
            continue
        touching = [p for p in profiles if r.code in (p.get("rules") or {})]
        excluded = tuple(sorted({region for p in touching for region in p.get("regions", [])}))
        runs.append(
            RuleRun(
                code=r.code,
                definition=definition,
                params=definition.params_model.model_validate(r.parameters),
                severity=r.severity,
                profile=None,
                regions=None,
                excluded=excluded,
            )
        )
        claimed: set[str] = set()
        for p in touching:
            # one profile per région: the first listed (rulesets.check refuses overlaps; a set
            # stored before it did keeps evaluating)
            regions = tuple(region for region in p.get("regions", []) if region not in claimed)
            claimed.update(regions)
            if not regions:
                continue
            change = p["rules"][r.code]
            runs.append(
                RuleRun(
                    code=r.code,
                    definition=definition,
                    params=definition.params_model.model_validate(
                        merge(r.parameters, change.get("parameters") or {})
                    ),
                    severity=change.get("severity") or r.severity,
                    profile=p["name"],
                    regions=regions,
                )
            )
    return Plan(
        version=rule_set.version,
        runs=runs,
        codes=[r.code for r in rules],
        unimplemented=unimplemented,
    )
