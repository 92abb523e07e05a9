"""Bookkeeping of loaded layers: a new vintage is written beside the current one under a
non-current `layer` row, then made current in the same transaction, so readers (who join on
`layer.is_current`) switch from the whole old vintage to the whole new one at commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import text
from sqlalchemy.engine import Connection

from service.db import local_setting

# One lock for every layer load: two loads of the same kind never race on the current flag.
_LOAD_LOCK_KEY = 0x7E7E_0004


def lock_layer_loads(conn: Connection) -> None:
    """Serialise layer loads (released at the end of the transaction). A load waits for the
    one under way however long that one runs (each of its statements may take 15 minutes):
    neither the engine's lock timeout, sized for requests, nor its statement timeout bounds
    this wait; the statement timeout is put back for the load's own statements, and its other
    waits are bounded by them."""
    conn.execute(text("SET LOCAL lock_timeout = 0"))
    with local_setting(conn, "statement_timeout", "0"):
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOAD_LOCK_KEY})


@dataclass(frozen=True)
class NewLayer:
    kind: str
    vintage: str
    source: str
    scope: str | None = None
    package: str | None = None
    package_version: str | None = None
    sha256: str | None = None
    synthetic: bool = False
    reference: str | None = None
    reference_date: date | None = None
    notes: str | None = None


def create_layer(conn: Connection, layer: NewLayer) -> int:
    """A `layer` row, not current yet; its data rows are written under the returned id."""
    return int(
        conn.execute(
            text(
                "INSERT INTO layer (kind, scope, vintage, source, package, package_version,"
                " sha256, synthetic, reference, reference_date, notes, row_count, is_current)"
                " VALUES (:kind, :scope, :vintage, :source, :package, :package_version,"
                " :sha256, :synthetic, :reference, :reference_date, :notes, 0, false)"
                " RETURNING id"
            ),
            layer.__dict__,
        ).scalar_one()
    )


def finish_layer(conn: Connection, layer_id: int, table: str, seconds: float) -> int:
    """Record the row count (counted in the data table) and the load time of a layer."""
    count = int(
        conn.execute(
            text(f"SELECT count(*) FROM {table} WHERE layer_id = :id"), {"id": layer_id}
        ).scalar_one()
    )
    conn.execute(
        text("UPDATE layer SET row_count = :n, load_seconds = :s WHERE id = :id"),
        {"n": count, "s": round(seconds, 3), "id": layer_id},
    )
    return count


def make_current(conn: Connection, layer_ids: list[int]) -> None:
    """Make these layers current, each replacing the current layer of its kind and scope.
    Two statements (the unique partial index is checked row by row), one transaction; then
    the planner's statistics of `layer` follow."""
    conn.execute(
        text(
            "UPDATE layer old SET is_current = false FROM layer new"
            " WHERE new.id = ANY(:ids) AND old.kind = new.kind"
            " AND coalesce(old.scope, '') = coalesce(new.scope, '')"
            " AND old.is_current AND old.id <> new.id"
        ),
        {"ids": layer_ids},
    )
    conn.execute(
        text("UPDATE layer SET is_current = true WHERE id = ANY(:ids)"), {"ids": layer_ids}
    )
    # Every rule and territory read joins `layer` to find what answers; its few rows never
    # reach autovacuum's threshold, and unanalysed the planner takes it for one row.
    conn.execute(text("ANALYZE layer"))


def current_layer_matching(
    conn: Connection, kind: str, scope: str | None, **columns: object
) -> int | None:
    """The id of the current layer of this kind and scope when its columns hold these values."""
    where = " AND ".join(f"{name} IS NOT DISTINCT FROM :{name}" for name in columns)
    row = conn.execute(
        text(
            "SELECT id FROM layer WHERE kind = :kind AND coalesce(scope, '') = :scope"
            " AND is_current" + (f" AND {where}" if where else "")
        ),
        {"kind": kind, "scope": scope or "", **columns},
    ).first()
    return int(row[0]) if row else None
