"""Small SQL builders shared by the catalogue modules: reading the cabin's JSONB blocks,
listing the fields a rule is missing, and building evidence objects."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, ColumnElement, Date, case, cast, func, literal, null, or_
from sqlalchemy.dialects.postgresql import JSONB, array
from sqlalchemy.types import Text


def jtext(column: Any, *path: str) -> ColumnElement[str]:
    """The text at `path` in a JSONB column; NULL when absent or JSON null."""
    return func.jsonb_extract_path_text(column, *path)


def jbool(column: Any, *path: str) -> ColumnElement[bool]:
    """A tri-state fact of a JSONB block: true, false, or NULL (unknown)."""
    return cast(jtext(column, *path), Boolean)


def jdate(column: Any, *path: str) -> ColumnElement[Any]:
    return cast(jtext(column, *path), Date)


def missing(*checks: tuple[str, ColumnElement[Any]]) -> ColumnElement[Any]:
    """A JSON array of the field paths (as the API spells them) whose value is NULL."""
    items = [case((value.is_(None), literal(name, Text)), else_=null()) for name, value in checks]
    listed = array(items, type_=Text)  # type: ignore[misc]
    return func.to_jsonb(func.array_remove(listed, None), type_=JSONB)


def any_null(*values: ColumnElement[Any]) -> ColumnElement[bool]:
    return or_(*(value.is_(None) for value in values))


def evidence(**fields: Any) -> ColumnElement[Any]:
    """`jsonb_build_object` over keyword arguments (Python values become literals)."""
    args: list[Any] = []
    for key, value in fields.items():
        args.append(literal(key, Text))
        if isinstance(value, (list, dict)):
            args.append(literal(value, JSONB))
        elif isinstance(value, ColumnElement):
            args.append(value)
        else:
            args.append(literal(value))
    return func.jsonb_build_object(*args, type_=JSONB)


Check = tuple[ColumnElement[bool], str, str]
"""(condition, outcome, reason): the first condition that holds decides."""


def decide(
    checks: list[Check], otherwise: tuple[str, str]
) -> tuple[ColumnElement[str], ColumnElement[str]]:
    """The outcome and the reason of the first check that holds, else `otherwise`."""
    outcome = case(
        *((condition, literal(result, Text)) for condition, result, _ in checks),
        else_=literal(otherwise[0], Text),
    )
    reason = case(
        *((condition, literal(why, Text)) for condition, _, why in checks),
        else_=literal(otherwise[1], Text),
    )
    return outcome, reason
