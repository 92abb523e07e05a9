"""Constants written into the SQL text instead of sent as parameters, in two forms.

`inline_constants(statement)` gives back the SQLAlchemy statement with its constants as
literals (the public reads); `inline_sql(session, statement, keep)` gives the finished SQL
text for psycopg, each constant written by the driver itself (the rule engine's few-cabin
statement, prepared on the connection).

The public statements carry dozens of constants (the JSON keys of every property, JSONB keys,
thresholds, `status = 'active'`): as bound parameters each one is adapted by the driver and
parsed by the server on every request, which costs more than the query itself on a single
item. `inline_constants` renders every bound value of a statement built once, at build time,
with the dialect's literal quoting; the parameters that carry no value (the request's own:
reference, lon, lat, limit…) stay bound."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar, cast

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import BindParameter, ClauseElement

DIALECT = psycopg_dialect()

T = TypeVar("T", bound=ClauseElement)


def inline_constants(statement: T) -> T:
    """The statement with every bound value that has one written as a literal of its type."""

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


def inline_sql(session: Session, statement: Any, keep: Sequence[str]) -> str:
    """The statement's SQL for psycopg with every bound value written as a literal by the
    driver itself (`ClientCursor.mogrify`: the same adaptation as a bound value, each still
    followed by the cast SQLAlchemy renders), except the parameters named in `keep`, left as
    `%(name)s` placeholders."""
    connection = session.connection()
    dialect = connection.dialect
    compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    sql: str = compiled.string
    values: dict[str, Any] = {}
    for name, value in compiled.construct_params().items():
        if name in keep:
            sql = sql.replace(f"%({name})s", f"%%({name})s")
            continue
        # an expanded IN list's members are named `<bind>_<n>` after their bind
        bind = compiled.binds.get(name)
        if bind is None:
            bind = compiled.binds.get(name.rsplit("_", 1)[0])
        processor = (
            bind.type.dialect_impl(dialect).bind_processor(dialect) if bind is not None else None
        )
        values[name] = processor(value) if processor is not None and value is not None else value
        if isinstance(value, float):
            # bound, a float travels as float8 and its cast (`::NUMERIC` in the evidence) turns
            # 1000.0 into 1000; written bare, `1000.0::NUMERIC` would keep the scale. Same bytes
            # as the set-based path's evidence, not merely equal values.
            sql = sql.replace(f"%({name})s", f"CAST(%({name})s AS double precision)")
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    rendered = psycopg.ClientCursor(driver).mogrify(sql, values)
    # the text is a query again: escape its percent signs, but not the placeholders kept
    rendered = rendered.replace("%", "%%")
    for name in keep:
        rendered = rendered.replace(f"%%({name})s", f"%({name})s")
    return rendered
