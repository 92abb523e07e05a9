"""Constants written into the SQL text instead of sent as parameters.

The public statements carry dozens of constants (the JSON keys of every property, JSONB keys,
thresholds, `status = 'active'`): as bound parameters each one is adapted by the driver and
parsed by the server on every request, which costs more than the query itself on a single
item. `inline_constants` renders every bound value of a statement built once, at build time,
with the dialect's literal quoting; the parameters that carry no value (the request's own:
reference, lon, lat, limit…) stay bound."""

from __future__ import annotations

from typing import Any, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import BindParameter, ClauseElement

DIALECT = psycopg_dialect()

T = TypeVar("T", bound=ClauseElement)


def inline_constants(statement: T) -> T:
    def literal(element: Any, **kw: Any) -> Any:
        node = element
        if not isinstance(node, BindParameter) or node.callable is not None or node.value is None:
            return None
        render = node.type.literal_processor(DIALECT)
        if render is None:
            return None
        return sa.literal_column(render(node.value), node.type)

    options: dict[str, Any] = {}
    replaced: Any = visitors.replacement_traverse(cast(Any, statement), options, literal)
    return cast(T, replaced)
