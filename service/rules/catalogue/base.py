"""What a rule implementation is, and the registry the evaluator reads.

A rule set is data (codes, parameters, severities, regional profiles); the code holds one
implementation per rule code. An implementation is a plain function that takes a `RuleInput`
and returns ONE SQLAlchemy Core `Select` with exactly three columns:

- `cabin_id` (uuid) — one row per cabin of `inp.cabins` (no cabin missing, none twice),
- `outcome` (text) — one of `OUTCOMES`,
- `evidence` (jsonb) — what was measured or found, the threshold, the layer row and vintage.

Build the evidence in the select itself, not in a subquery that PostgreSQL cannot pull up
(a GROUP BY, a set-returning function): the evaluator hashes the values the evidence is made
of (`service.rules.fingerprint`) to find the verdicts that changed, and builds the evidence of
those only, which it can do only when the evidence is computed where it is selected.

The same statement serves one cabin (on write), a bulk import, all cabins (re-evaluation) and
a candidate that is not stored (what-if): `inp.cabins` is any selectable with the columns of
the `cabin` table. The evaluator applies regional profiles by calling the implementation once
per distinct parameter set, on the cabins of the régions that set applies to, so an
implementation never has to know about profiles.

Write implementations in the family modules (`declarations.py`, `venue.py`, …) with the
`@rule("SIT-xx", Params)` decorator. A rule whose verdict depends on other cabins declares how
far, from its parameters (`@rule("SIT-10", Params, reach=lambda p: p.radius_m)`): of the other
cabins it may read only whether they are active and where they are, so that a write changing
either re-evaluates the cabins within that reach for that rule (`evaluator.evaluate`).

`unknown` whenever the data the rule needs is missing — never a silent pass; `not_applicable`
when the rule does not concern the cabin."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Select
from sqlalchemy.sql import FromClause

PASS = "pass"
FAIL = "fail"
UNKNOWN = "unknown"
NOT_APPLICABLE = "not_applicable"
OUTCOMES = (PASS, FAIL, UNKNOWN, NOT_APPLICABLE)


class RuleParams(BaseModel):
    """Base of every rule's parameter model: unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(RuleParams):
    pass


P = TypeVar("P", bound=RuleParams)


@dataclass(frozen=True)
class RuleInput:
    cabins: FromClause
    """The cabins to evaluate: a selectable with every column of `cabin` (`inp.cabins.c.geom`)."""
    params: Any
    """The rule's validated parameters (an instance of its `RuleParams` model), with the
    regional profile already applied."""
    at: date
    """The evaluation date (freshness, validity of an agrément, …): `timespans.today` of the
    evaluation time, the date the write path calls today, so that a date a record may hold
    is never judged to be in the future."""
    few: bool = False
    """The cabins are a few (a write, a small import): a rule may then look its layers up by
    index for each cabin instead of hashing a whole layer. Either way the rows are the same."""


RuleImpl = Callable[[RuleInput], Select[Any]]


@dataclass(frozen=True)
class RuleDefinition:
    code: str
    params_model: type[RuleParams]
    implementation: RuleImpl
    family: str
    reach: Callable[[Any], float] | None = None
    """How far, in metres, a cabin's verdict depends on other cabins (from the rule's validated
    parameters, a profile's own); None: on the cabin and the layers alone."""


REGISTRY: dict[str, RuleDefinition] = {}


def rule(
    code: str,
    params_model: type[P] = NoParams,  # type: ignore[assignment]
    *,
    reach: Callable[[P], float] | None = None,
) -> Callable[[RuleImpl], RuleImpl]:
    """Registers the decorated function as the implementation of `code`; `reach`: how far
    its verdicts depend on other cabins' status and point (see the module's docstring)."""

    def register(implementation: RuleImpl) -> RuleImpl:
        if code in REGISTRY:
            raise RuntimeError(f"rule {code} is implemented twice")
        family = implementation.__module__.rsplit(".", 1)[-1]
        REGISTRY[code] = RuleDefinition(code, params_model, implementation, family, reach)
        return implementation

    return register
