"""Accessibility needs a finder app can ask for, and how each is judged from the cabin's
tri-state accessibility facts, in SQL: per need, whether it is met (true / false / null =
unknown) and the evidence (each fact or measurement, its threshold, and whether it passes).

A need is a conjunction of groups, a group a disjunction of criteria; SQL's three-valued AND /
OR give exactly the tri-state we publish (one failing criterion makes the need not met; a
missing fact makes it unknown unless another criterion already decides it). Unknown is never
reported as met."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from service.cabins.models import Cabin

NEED_NAMES = ("wheelchair", "hearing_loop", "sign_language", "speech_output")
"""Names accepted by `needs=` (comma separated)."""

# SIT-17/18 (domain-rules.md): door clear width 0.77 m in existing buildings, 0.83 m in new
# ones; interior turning space Ø 1.50 m or a documented equivalent solution.
DOOR_MIN_EXISTING_CM = 77
DOOR_MIN_NEW_CM = 83
TURNING_MIN_CM = 150


def text(value: str) -> ColumnElement[Any]:
    return sa.cast(sa.literal(value), sa.Text)


@dataclass(frozen=True)
class Criterion:
    """One accessibility fact (expected true) or one measurement with a minimum."""

    field: str
    minimum: ColumnElement[Any] | None = None  # None: a tri-state fact expected true

    def met(self) -> ColumnElement[Any]:
        raw = Cabin.accessibility[self.field].astext
        if self.minimum is None:
            return sa.cast(raw, sa.Boolean)
        return sa.cast(raw, sa.Numeric) >= self.minimum

    def evidence(self) -> ColumnElement[Any]:
        parts: list[Any] = [
            text("field"),
            text(self.field),
            text("value"),
            Cabin.accessibility[self.field],
        ]
        if self.minimum is None:
            parts += [text("expected"), sa.true()]
        else:
            parts += [text("minimum"), self.minimum]
        parts += [text("met"), self.met()]
        return sa.func.json_build_object(*parts)


@dataclass(frozen=True)
class Need:
    name: str
    groups: tuple[tuple[Criterion, ...], ...]

    def met(self) -> ColumnElement[Any]:
        return sa.and_(*(sa.or_(*(c.met() for c in group)) for group in self.groups))

    def status(self) -> ColumnElement[Any]:
        met = self.met()
        return sa.case(
            (met.is_(sa.true()), text("met")),
            (met.is_(sa.false()), text("not_met")),
            else_=text("unknown"),
        )

    def evidence(self) -> ColumnElement[Any]:
        criteria = [c.evidence() for group in self.groups for c in group]
        return sa.func.json_build_object(
            text("status"), self.status(), text("criteria"), sa.func.json_build_array(*criteria)
        )


def door_minimum() -> ColumnElement[Any]:
    """The door width the venue's building regime requires (existing when unknown)."""
    return sa.case(
        (Cabin.venue_building_regime == "new", sa.literal(DOOR_MIN_NEW_CM)),
        else_=sa.literal(DOOR_MIN_EXISTING_CM),
    )


def wheelchair() -> Need:
    return Need(
        "wheelchair",
        (
            (Criterion("entree_plain_pied"),),
            (Criterion("cabin_door_clear_width_cm", door_minimum()),),
            (
                Criterion("turning_diameter_cm", sa.literal(TURNING_MIN_CM)),
                Criterion("equivalent_solution_documented"),
            ),
        ),
    )


def build_needs(names: Sequence[str], min_door_width_cm: Any = None) -> list[Need]:
    """The needs asked for, in a stable order; `min_door_width_cm` (a number or a bound
    parameter) adds its own need."""
    needs: list[Need] = []
    for name in NEED_NAMES:
        if name not in names:
            continue
        if name == "wheelchair":
            needs.append(wheelchair())
        elif name == "hearing_loop":
            needs.append(Need(name, ((Criterion("hearing_loop"),),)))
        elif name == "sign_language":
            needs.append(Need(name, ((Criterion("sign_language_interpreting"),),)))
        elif name == "speech_output":
            needs.append(Need(name, ((Criterion("speech_output"),),)))
    if min_door_width_cm is not None:
        value = (
            min_door_width_cm
            if isinstance(min_door_width_cm, sa.BindParameter)
            else sa.literal(min_door_width_cm)
        )
        minimum = sa.cast(value, sa.Numeric)
        needs.append(Need("min_door_width", ((Criterion("cabin_door_clear_width_cm", minimum),),)))
    return needs


def all_met(needs: list[Need]) -> ColumnElement[Any]:
    """True when every need is met, false when one is not, null when unknown remains."""
    return sa.and_(*(n.met() for n in needs))
