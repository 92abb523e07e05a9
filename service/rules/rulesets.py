"""Rule sets as versioned data: load one from its repository file, derive a new draft version
from another, validate every rule's parameters (and each profile's) with the rule's params
model, and publish — the new set comes into force, the previous one is retired, and every
cabin is re-evaluated. Creating and publishing are audited (`rule_set.create`,
`rule_set.publish`, `rule_set.retire`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.trail import Actor, hold_chain, record
from service.cabins.imports.parse import undecodable_at
from service.errors import Conflict, NotFound, ValidationFailed, field_errors
from service.rules import evaluator, plan
from service.rules.models import COMPLIANCE_STATUSES, Rule, RuleSet
from service.rules.schemas import Profile, RuleSetCreate, RuleSetSpec, RuleSpec
from service.territories.queries import current_codes

RULESETS_DIR = Path(__file__).resolve().parent / "rulesets"
FIRST_RULE_SET = RULESETS_DIR / "2026.1.yaml"


class NotARuleSetFile(ValueError):
    """A rule-set file that is not UTF-8 text holding a YAML mapping (the message says why)."""


_HOLDS = {str: "a string", list: "a list", int: "a number", float: "a number", bool: "a boolean"}


def read_file(path: Path) -> RuleSetSpec:
    """The rule set a file holds (raises OSError, yaml.YAMLError, NotARuleSetFile, or
    pydantic's ValidationError naming the fields)."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise NotARuleSetFile(
            f"{path} is not UTF-8 text {undecodable_at(raw, error)} (save it as UTF-8)"
        ) from None
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        holds = "nothing" if data is None else _HOLDS.get(type(data), type(data).__name__)
        raise NotARuleSetFile(
            f"{path} is not a rule set: it must be a YAML mapping of version, title and rules"
            f" (as service/rules/rulesets/2026.1.yaml); it holds {holds}"
        )
    return RuleSetSpec.model_validate(data)


def _strict_reason(error: ErrorDetails) -> str | None:
    """Parameters are read strictly (`plan.params_of`): a yes/no is only true or false
    there, whatever the lax reading of a record's fields accepts."""
    return "must be true or false" if error["type"] == "bool_type" else None


def _parameter_errors(error: ValidationError, prefix: str) -> list[dict[str, str]]:
    return field_errors(error, prefix=prefix, explain=_strict_reason)


def check(spec: RuleSetSpec, *, by_code: bool = False, regions: set[str] | None = None) -> None:
    """Rule codes unique; parameters (and profile overrides) valid for each implemented rule;
    one profile at most per rule and région (two would both write the rule's verdict), and
    each profile's régions listed once and among `regions` (those of the current layer, when
    given). A rule without an implementation yet keeps its parameters as given. Errors name a
    rule by its place in the file's list, or `by_code` as the API's `rules` object is keyed."""
    errors: list[dict[str, str]] = []
    seen: set[str] = set()
    rules = {r.code: r for r in spec.rules}
    for i, r in enumerate(spec.rules):
        if r.code in seen:
            errors.append({"field": f"rules.{i}.code", "reason": f"{r.code} appears twice"})
        seen.add(r.code)
        try:
            plan.params_of(r.code, r.parameters)
        except ValidationError as error:
            errors += _parameter_errors(error, f"rules.{r.code if by_code else i}.parameters")
    if not any(r.enabled for r in spec.rules):
        errors.append(
            {
                "field": "rules",
                "reason": "no rule is enabled: under this set every cabin would be compliant",
            }
        )
    names: set[str] = set()
    # (rule, région): the place of the profile that changes it (names may be given twice)
    taken: dict[tuple[str, str], int] = {}
    for i, p in enumerate(spec.profiles):
        if p.name in names:
            errors.append({"field": f"profiles.{i}.name", "reason": f"{p.name} appears twice"})
        names.add(p.name)
        for j, region in enumerate(p.regions):
            where = f"profiles.{i}.regions.{j}"
            if region in p.regions[:j]:
                errors.append({"field": where, "reason": f"{region} appears twice"})
                continue
            if regions is not None and region not in regions:
                errors.append(
                    {"field": where, "reason": f"{region} is not a région of the current layer"}
                )
                continue
            clash = next(
                (
                    (code, taken[code, region])
                    for code in sorted(p.rules)
                    if (code, region) in taken
                ),
                None,
            )
            if clash is not None:
                owner = spec.profiles[clash[1]].name
                errors.append(
                    {
                        "field": where,
                        "reason": f"région {region} takes {clash[0]} from profile {owner}"
                        f" (profiles.{clash[1]}) already: one profile per rule and région",
                    }
                )
            for code in p.rules:
                taken.setdefault((code, region), i)
        for code, change in p.rules.items():
            where = f"profiles.{i}.rules.{code}"
            if code not in rules:
                errors.append({"field": where, "reason": f"{code} is not in the rule set"})
                continue
            try:
                plan.params_of(code, plan.merge(rules[code].parameters, change.parameters))
            except ValidationError as error:
                errors += _parameter_errors(error, f"{where}.parameters")
    if errors:
        raise ValidationFailed("The rule set is not valid.", errors=errors)


def _current_regions(session: Session) -> set[str] | None:
    """The région codes of the current layer (None while none is loaded)."""
    return set(current_codes(session, "region")) or None


def no_rule_set(version: str) -> str:
    """The reason a field or parameter naming a rule set that does not exist is refused."""
    return f"no rule set {version} (GET /v1/rule-sets lists them)"


def spec_of(rule: Rule) -> RuleSpec:
    """A stored rule as the rule-set file and the API write it."""
    return RuleSpec(
        code=rule.code,
        title=rule.title,
        basis=rule.basis,  # type: ignore[arg-type]
        sources=list(rule.sources),
        severity=rule.severity,  # type: ignore[arg-type]
        parameters=rule.parameters,
        enabled=rule.enabled,
        description=rule.description,
    )


def _same(existing: RuleSet, rules: list[Rule], spec: RuleSetSpec) -> bool:
    stored = [spec_of(r) for r in sorted(rules, key=lambda r: r.code)]
    return (
        existing.title == spec.title
        and stored == sorted(spec.rules, key=lambda r: r.code)
        and [Profile.model_validate(p) for p in existing.profiles] == spec.profiles
    )


def create(
    session: Session,
    spec: RuleSetSpec,
    *,
    actor: Actor,
    source_file: str | None = None,
    based_on: str | None = None,
) -> RuleSet:
    """A new draft rule set. The same version again with the same content is a no-op;
    with other content it is a conflict (a published version never changes). A set derived
    from another (`based_on`) came from the API, whose `rules` are keyed by code.

    Only a new set is checked: one stored already may predate a check added since (a
    stricter parameter, a région of a newer layer), and publishing its file again must
    still change nothing."""
    existing = session.get(RuleSet, spec.version)
    if existing is not None:
        rules = session.scalars(select(Rule).where(Rule.rule_set_version == spec.version)).all()
        if _same(existing, list(rules), spec):
            return existing
        raise Conflict(
            f"Rule set {spec.version} already exists with other content; use a new version.",
            errors=[{"field": "version", "reason": "already exists"}],
        )
    check(spec, by_code=based_on is not None, regions=_current_regions(session))
    rule_set = RuleSet(
        version=spec.version,
        title=spec.title,
        description=spec.description,
        status="draft",
        profiles=[p.model_dump(mode="json", exclude_none=True) for p in spec.profiles],
        source_file=source_file,
    )
    session.add(rule_set)
    session.flush()  # no ORM relationship orders the rule rows after their set
    session.add_all(
        Rule(
            rule_set_version=spec.version,
            code=r.code,
            title=r.title,
            basis=r.basis,
            sources=r.sources,
            severity=r.severity,
            parameters=r.parameters,
            enabled=r.enabled,
            description=r.description,
        )
        for r in spec.rules
    )
    session.flush()
    diff: dict[str, Any] = {
        "status": [None, "draft"],
        "title": [None, spec.title],
        "rules": [None, len(spec.rules)],
    }
    if based_on is not None:
        diff["based_on"] = [None, based_on]
    if source_file is not None:
        diff["source_file"] = [None, source_file]
    record(session, actor, "rule_set.create", "rule_set", spec.version, diff)
    return rule_set


def derive(session: Session, body: RuleSetCreate, *, actor: Actor) -> RuleSet:
    """A new draft from an existing version with some rules changed (parameters merged)."""
    base = session.get(RuleSet, body.based_on) if body.based_on else plan.in_force(session)
    if base is None and body.based_on:
        raise ValidationFailed(
            f"No rule set {body.based_on} to start from.",
            errors=[{"field": "based_on", "reason": no_rule_set(body.based_on)}],
        )
    if base is None:
        raise ValidationFailed(
            "No rule set is in force to start from.",
            errors=[{"field": "based_on", "reason": "required while no rule set is in force"}],
        )
    rules = session.scalars(
        select(Rule).where(Rule.rule_set_version == base.version).order_by(Rule.code)
    ).all()
    codes = {r.code for r in rules}
    unknown = sorted(set(body.rules) - codes)
    if unknown:
        raise ValidationFailed(
            "Changes name rules that are not in the rule set.",
            errors=[
                {"field": f"rules.{c}", "reason": f"{c} is not a rule of {base.version}"}
                for c in unknown
            ],
        )
    specs: list[RuleSpec] = []
    for r in rules:
        change = body.rules.get(r.code)
        parameters: dict[str, Any] = dict(r.parameters)
        if change and change.parameters is not None:
            parameters = plan.merge(parameters, change.parameters)
        specs.append(
            RuleSpec(
                code=r.code,
                title=(change.title if change and change.title else r.title),
                basis=r.basis,  # type: ignore[arg-type]
                sources=list(r.sources),
                severity=(change.severity if change and change.severity else r.severity),  # type: ignore[arg-type]
                parameters=parameters,
                enabled=(change.enabled if change and change.enabled is not None else r.enabled),
                description=(
                    change.description if change and change.description else r.description
                ),
            )
        )
    profiles = (
        body.profiles
        if body.profiles is not None
        else [Profile.model_validate(p) for p in base.profiles]
    )
    spec = RuleSetSpec(
        version=body.version,
        title=body.title,
        description=body.description or base.description,
        profiles=profiles,
        rules=specs,
    )
    if session.get(RuleSet, spec.version) is not None:
        raise Conflict(
            f"Rule set {spec.version} already exists.",
            errors=[{"field": "version", "reason": "already exists"}],
        )
    return create(session, spec, actor=actor, based_on=base.version)


@contextmanager
def _undone(session: Session) -> Iterator[None]:
    """What the block writes is rolled back, whether it succeeds or fails: a dry run."""
    savepoint = session.begin_nested()
    try:
        yield
    finally:
        savepoint.rollback()


def publish(
    session: Session,
    version: str,
    *,
    actor: Actor,
    at: datetime | None = None,
    dry_run: bool = False,
) -> tuple[RuleSet, evaluator.EvaluationReport]:
    """Puts a draft in force (the previous set is retired) and re-evaluates every cabin. The
    set in force already: nothing to do. A retired set cannot come back. A publication
    cannot be undone: `dry_run` gives the same report and rolls every write back (the set
    returned as it stays, a draft).

    The audit chain's lock comes first, then the rule set in force's, in the order a cabin
    write takes them (it appends its event, then evaluates): the other order could deadlock
    with a write."""
    if dry_run:
        with _undone(session):
            drafted, report = publish(session, version, actor=actor, at=at)
        session.refresh(drafted)
        return drafted, report
    hold_chain(session)
    plan.replace_in_force(session)
    rule_set = session.get(RuleSet, version, with_for_update=True)
    if rule_set is None:
        raise NotFound(f"No rule set {version}.")
    if rule_set.status == "published":
        return rule_set, evaluator.EvaluationReport(rule_set_version=version)
    if rule_set.status == "retired":
        raise Conflict(
            f"Rule set {version} was retired; publish a new version instead.",
            errors=[{"field": "version", "reason": "retired"}],
        )
    rules = session.scalars(select(Rule).where(Rule.rule_set_version == version)).all()
    check(
        RuleSetSpec(
            version=version,
            title=rule_set.title,
            profiles=[Profile.model_validate(p) for p in rule_set.profiles],
            rules=[spec_of(r) for r in rules],
        ),
        by_code=True,  # the stored rules have no order the admin knows
    )
    at = at or evaluator.now()
    previous = plan.in_force(session)
    if previous is not None:
        previous.status = "retired"
        previous.valid_to = at.date()
        previous.retired_at = at
        session.flush()
    rule_set.status = "published"
    rule_set.valid_from = at.date()
    rule_set.published_at = at
    session.flush()
    if previous is not None:
        record(
            session,
            actor,
            "rule_set.retire",
            "rule_set",
            previous.version,
            {"status": ["published", "retired"], "valid_to": [None, at.date().isoformat()]},
            reason=f"replaced by {version}",
        )
    record(
        session,
        actor,
        "rule_set.publish",
        "rule_set",
        version,
        {"status": ["draft", "published"], "valid_from": [None, at.date().isoformat()]},
    )
    before = evaluator.compliance_counts(session)
    report = evaluator.reevaluate_all(session, at=at)
    after = evaluator.compliance_counts(session)
    report.compliance = {
        status: (before.get(status, 0), after.get(status, 0)) for status in COMPLIANCE_STATUSES
    }
    return rule_set, report


def publish_file(
    session: Session,
    path: Path,
    *,
    actor: Actor,
    at: datetime | None = None,
    spec: RuleSetSpec | None = None,
    dry_run: bool = False,
) -> tuple[RuleSet, evaluator.EvaluationReport | None]:
    """`registry rules publish <file>`: create the version if new, publish it if it is a
    draft. Idempotent: a version already published or retired is left as it is. `spec`: the
    file already read. `dry_run`: the same report, the version created and published only
    until they are rolled back."""
    spec = spec or read_file(path)
    if dry_run:
        with _undone(session):
            return publish_file(session, path, actor=actor, at=at, spec=spec)
    try:
        source = str(path.resolve().relative_to(RULESETS_DIR.parent.parent.parent))
    except ValueError:
        source = str(path)
    rule_set = create(session, spec, actor=actor, source_file=source)
    if rule_set.status != "draft":
        return rule_set, None
    return publish(session, spec.version, actor=actor, at=at)
