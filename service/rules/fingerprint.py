"""A verdict's fingerprint: a 64-bit hash of every value its evidence is built from.

Building the JSONB evidence of each cabin is most of what a rule costs over all cabins (the
outcomes alone are about a third). A full pass after a new layer vintage or rule set mostly
finds the verdicts unchanged, so the evaluator compares the outcome and this fingerprint with
the stored ones, and builds the evidence only of the verdicts that differ.

The fingerprint is derived from the rule's own evidence expression, so that it cannot forget
an input: the `jsonb_build_object`s, `to_jsonb`s, `jsonb_strip_nulls`s and `||`s that only
assemble the object are opened, and what they assemble, every value that is not a constant,
is hashed as one row by `hash_record_extended`. The constants (keys, parameters, reasons
given as literals) and the shape of the expression are hashed in Python into the row's first
value, the seed: the SQL text of the evidence expression and its bound values. So the same
values under another parameter, key or shape give another fingerprint. Fingerprints are only
ever compared within one rule (a verdict is one cabin × one rule).

Equal fingerprints mean equal evidence, up to a 64-bit collision and to the scale of a
numeric (80 and 80.0 hash alike and would print differently: an equal value). Every value must
have an extended hash function (text, numbers, booleans, dates, uuids, arrays of them, jsonb);
a rule that shows another type (a geometry, json) casts it to one of those in its evidence."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Null, case, func, literal
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import (
    BinaryExpression,
    BindParameter,
    Case,
    Cast,
    Grouping,
    Label,
)
from sqlalchemy.sql.functions import Function

# Functions that only assemble the evidence: their arguments are hashed instead of their result.
_ASSEMBLING = {"jsonb_build_object", "to_jsonb", "jsonb_strip_nulls"}

_DIALECT = postgresql.dialect()


def fingerprint(
    evidence: ColumnElement[Any], shape: ColumnElement[Any] | None = None
) -> ColumnElement[int]:
    """The fingerprint of a rule's `evidence` expression, evaluated beside it (same FROM).

    `shape` is the same rule's evidence over a fixed selectable of cabins, when the evidence
    holds a subquery that reads the cabins it is evaluated on (its SQL text then names them):
    the seed must be the same whichever cabins a pass covers."""
    seed = _seed(evidence if shape is None else shape)
    return _hash(literal(seed, BigInteger), list(_values(evidence)))


def _hash(first: ColumnElement[Any], values: list[ColumnElement[Any]]) -> ColumnElement[int]:
    return func.hash_record_extended(func.row(first, *values), 0, type_=BigInteger)


def _values(expression: Any) -> Iterator[ColumnElement[Any]]:
    """The non-constant values an evidence expression assembles, in order."""
    if isinstance(expression, (Label, Grouping)):
        yield from _values(expression.element)
    elif expression is None or isinstance(expression, (BindParameter, Null)):
        return  # a constant: in the seed
    elif isinstance(expression, Cast) and isinstance(expression.clause, (BindParameter, Null)):
        return  # a constant JSON value (a parameter list)
    elif (parts := _parts(expression)) is not None:
        for part in parts:
            yield from _values(part)
    elif isinstance(expression, Case) and expression.value is None and _assembling_case(expression):
        # a part of the evidence built only in some cases: the branch taken and its values
        yield case(
            *(
                (condition, _hash(literal(n, BigInteger), list(_values(result))))
                for n, (condition, result) in enumerate(expression.whens, start=1)
            ),
            else_=_hash(literal(0, BigInteger), list(_values(expression.else_))),
        )
    else:
        yield expression


def _parts(expression: Any) -> list[Any] | None:
    """What the expression builds a JSON value of (an assembling function's arguments, the two
    sides of `||`), or None when it does not assemble one."""
    if isinstance(expression, (Label, Grouping)):
        return _parts(expression.element)
    if isinstance(expression, Function) and expression.name.lower() in _ASSEMBLING:
        return list(expression.clauses)
    if isinstance(expression, BinaryExpression) and (
        getattr(expression.operator, "opstring", None) == "||"
    ):
        return [expression.left, expression.right]
    return None


def _assembling_case(expression: Case) -> bool:
    results = [result for _, result in expression.whens] + [expression.else_]
    return any(_parts(result) is not None for result in results)


def _seed(evidence: ColumnElement[Any]) -> int:
    """The constants and the shape of the evidence, as a signed 64-bit integer."""
    compiled = evidence.compile(dialect=_DIALECT)
    digest = hashlib.sha256(str(compiled).encode())
    for name in sorted(compiled.params):
        digest.update(f"\x00{name}={compiled.params[name]!r}".encode())
    return int.from_bytes(digest.digest()[:8], "big", signed=True)
