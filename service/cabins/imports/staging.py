"""Every SQL statement of the bulk import, over a temporary staging table: COPY the parsed
rows in, locate them against the current commune layer, look for possible duplicates, and
upsert the valid rows into `cabin` in one `INSERT … SELECT … ON CONFLICT … RETURNING`."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.cabins.validation import LocationInput, check_locations_in
from service.cabins.vocabulary import CONFIRMED_BLOCKS
from service.errors import taken_key
from service.territories.queries import CURRENT_COMMUNE_LAYER_IDS

STAGING = "import_staging"
LOCATED = "import_located"

# (name, SQL type) of the staged columns, in COPY order. The record columns are those of
# `service.cabins.records.columns_of`, the point as lon/lat.
RECORD_COLUMNS: tuple[tuple[str, str], ...] = (
    ("address_number", "text"),
    ("address_street", "text"),
    ("address_postcode", "text"),
    ("address_commune_name", "text"),
    ("declared_insee", "text"),
    ("venue_kind", "text"),
    ("venue_description", "text"),
    ("venue_name", "text"),
    ("venue_siret", "text"),
    ("venue_finess", "text"),
    ("venue_naf", "text"),
    ("venue_building_regime", "text"),
    ("venue_cabin_count", "integer"),
    ("ars_declaration_date", "date"),
    ("ars_declaration_reference", "text"),
    ("cpam_informed_date", "date"),
    ("cpts_informed_date", "date"),
    ("concertation_date", "date"),
    ("concertation_parties", "text[]"),
    ("opening_hours", "text"),
    ("siting", "jsonb"),
    ("care_links", "jsonb"),
    ("provider", "jsonb"),
    ("fees", "jsonb"),
    ("accessibility", "jsonb"),
)
JSONB_COLUMNS = {"siting", "care_links", "provider", "fees", "accessibility"}
STAGED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("row_no", "integer"),
    ("operator_reference", "text"),
    ("reference", "text"),
    ("lon", "float8"),
    ("lat", "float8"),
    *RECORD_COLUMNS,
    ("confirmed", "text[]"),
)
STAGED_NAMES = tuple(name for name, _ in STAGED_COLUMNS)


def create_staging(session: Session) -> None:
    """Temporary tables, dropped at the end of the transaction (and first, should an earlier
    import of the same transaction have left them)."""
    columns = ", ".join(f"{name} {sql_type}" for name, sql_type in STAGED_COLUMNS)
    session.execute(text(f"DROP TABLE IF EXISTS {STAGING}, {LOCATED}"))
    session.execute(text(f"CREATE TEMPORARY TABLE {STAGING} ({columns}) ON COMMIT DROP"))
    session.execute(
        text(
            f"CREATE TEMPORARY TABLE {LOCATED} (row_no integer PRIMARY KEY, commune_insee text,"
            " departement_code text, region_code text, epci_siren text, commune_vintage text)"
            " ON COMMIT DROP"
        )
    )


def drop_staging(session: Session) -> None:
    session.execute(text(f"DROP TABLE IF EXISTS {STAGING}, {LOCATED}, import_written"))


def _copy(
    session: Session, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    connection = session.connection().connection.driver_connection
    assert connection is not None
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def copy_rows(session: Session, rows: Iterable[Sequence[Any]]) -> None:
    """COPY the rows (in `STAGED_NAMES` order) into the staging table."""
    _copy(session, STAGING, STAGED_NAMES, rows)


def analyze(session: Session) -> None:
    """Statistics for the joins of the location and duplicate checks and the upsert."""
    session.execute(
        text(
            f"ANALYZE {STAGING} (row_no, operator_reference, reference, declared_insee,"
            " venue_siret, venue_name)"
        )
    )


@dataclass(frozen=True)
class RowProblem:
    row: int
    field: str
    reason: str


# The common case, one join: the point of row `{t}` inside its declared commune `c`.
_IN_DECLARED = f"""c.insee = {{t}}.declared_insee
 AND c.layer_id IN {CURRENT_COMMUNE_LAYER_IDS}
 AND ST_Intersects(c.geom, ST_SetSRID(ST_MakePoint({{t}}.lon, {{t}}.lat), 4326))"""

_LOCATE_IN_DECLARED = f"""
INSERT INTO {LOCATED}
SELECT s.row_no, c.insee, c.departement, c.region, c.epci, c.vintage
FROM {STAGING} s
JOIN commune c ON {_IN_DECLARED.format(t="s")}
"""

_UNLOCATED = f"""(SELECT x.row_no::text AS key, x.lon, x.lat, x.declared_insee
  FROM {STAGING} x WHERE NOT EXISTS (SELECT 1 FROM {LOCATED} l WHERE l.row_no = x.row_no)) AS s"""


def locate(session: Session) -> list[RowProblem]:
    """Derive the commune codes of every staged row; the problems of those that fail.

    The common case — the point inside its declared commune — is one join; the rest go
    through the registry's full location check (border tolerance, swapped coordinates, at
    sea, another commune), which names the reason."""
    session.execute(text(_LOCATE_IN_DECLARED))
    problems: list[RowProblem] = []
    tolerated: list[dict[str, Any]] = []
    for result in check_locations_in(session, _UNLOCATED):
        row = int(result.key)
        if result.errors:
            problems += [RowProblem(row, e["field"], e["reason"]) for e in result.errors]
        else:
            tolerated.append(
                {
                    "row_no": row,
                    "insee": result.commune_insee,
                    "dep": result.departement,
                    "reg": result.region,
                    "epci": result.epci,
                    "vintage": result.vintage,
                }
            )
    if tolerated:
        session.execute(
            text(f"INSERT INTO {LOCATED} VALUES (:row_no, :insee, :dep, :reg, :epci, :vintage)"),
            tolerated,
        )
    return problems


REJECTED = "import_rejected_location"

# The rejected rows whose point is not plainly inside its declared commune (the common case,
# one join, has nothing to report), for the full location check.
_REJECTED_UNLOCATED = f"""(SELECT x.key, x.lon, x.lat, x.declared_insee FROM {REJECTED} x
  WHERE NOT EXISTS (SELECT 1 FROM commune c WHERE {_IN_DECLARED.format(t="x")})) AS s"""


def locate_rejected(session: Session, inputs: Sequence[LocationInput]) -> list[RowProblem]:
    """The location problems of rows already refused for other reasons (a bad SIRET, a date
    in the future, …), so that the report gives every error of a row in one pass: the rows'
    points are COPYed into a temporary table and checked by one statement."""
    if not inputs:
        return []
    session.execute(text(f"DROP TABLE IF EXISTS {REJECTED}"))
    session.execute(
        text(
            f"CREATE TEMPORARY TABLE {REJECTED} (key text, lon float8, lat float8,"
            " declared_insee text) ON COMMIT DROP"
        )
    )
    _copy(
        session,
        REJECTED,
        ("key", "lon", "lat", "declared_insee"),
        ((item.key, item.lon, item.lat, item.declared_insee) for item in inputs),
    )
    session.execute(text(f"ANALYZE {REJECTED}"))
    problems = [
        RowProblem(int(result.key), error["field"], error["reason"])
        for result in check_locations_in(session, _REJECTED_UNLOCATED)
        for error in result.errors
    ]
    session.execute(text(f"DROP TABLE {REJECTED}"))
    return problems


def discard_rows(session: Session, rows: Iterable[int]) -> None:
    """Take rows out of what will be written (invalid, or identical to the stored cabin)."""
    rows = sorted(set(rows))
    if rows:
        session.execute(
            text(
                f"DELETE FROM {LOCATED} l USING unnest(CAST(:rows AS int[])) AS d(row_no)"
                " WHERE l.row_no = d.row_no"
            ),
            {"rows": rows},
        )


# Another cabin within 25 m at the same venue: the same SIRET when both have one, else the
# same venue name (case and spaces ignored). Existing cabins through the GiST index on
# cabin.geom (a box of ±0.0005°, wider than 25 m anywhere in France, then the exact metres);
# rows of the same file through a join on the venue.
DUPLICATE_RADIUS_M = 25
_SAME_VENUE = """(
  (a_siret IS NOT NULL AND b_siret IS NOT NULL AND a_siret = b_siret)
  OR ((a_siret IS NULL OR b_siret IS NULL) AND a_name IS NOT NULL AND a_name = b_name)
)"""


def _same_venue(a: str, b: str) -> str:
    return (
        _SAME_VENUE.replace("a_siret", f"{a}.venue_siret")
        .replace("b_siret", f"{b}.venue_siret")
        .replace("a_name", f"lower(btrim({a}.venue_name))")
        .replace("b_name", f"lower(btrim({b}.venue_name))")
    )


_DUPLICATES = f"""
WITH s AS (
  SELECT x.row_no, x.operator_reference, x.venue_siret, x.venue_name,
         ST_SetSRID(ST_MakePoint(x.lon, x.lat), 4326) AS g
  FROM {STAGING} x JOIN {LOCATED} USING (row_no)
)
SELECT s.row_no, c.reference AS other, c.operator_reference AS other_ref, NULL::int AS other_row,
       round(ST_Distance(c.geom::geography, s.g::geography))::int AS metres
FROM s
JOIN cabin c
  ON c.geom && ST_Expand(s.g, 0.0005)
 AND ST_DWithin(c.geom::geography, s.g::geography, {DUPLICATE_RADIUS_M})
 AND c.status <> 'decommissioned'
 AND NOT (c.operator_id = :operator_id AND c.operator_reference = s.operator_reference)
 AND {_same_venue("s", "c")}
UNION ALL
SELECT b.row_no, NULL, a.operator_reference, a.row_no,
       round(ST_Distance(a.g::geography, b.g::geography))::int
FROM s a
JOIN s b
  ON a.venue_siret = b.venue_siret AND a.row_no < b.row_no
 AND ST_DWithin(a.g::geography, b.g::geography, {DUPLICATE_RADIUS_M})
UNION ALL
SELECT b.row_no, NULL, a.operator_reference, a.row_no,
       round(ST_Distance(a.g::geography, b.g::geography))::int
FROM s a
JOIN s b
  ON lower(btrim(a.venue_name)) = lower(btrim(b.venue_name)) AND a.row_no < b.row_no
 AND (a.venue_siret IS NULL OR b.venue_siret IS NULL)
 AND ST_DWithin(a.g::geography, b.g::geography, {DUPLICATE_RADIUS_M})
ORDER BY 1, 5
"""


def possible_duplicates(session: Session, operator_id: uuid.UUID) -> list[RowProblem]:
    warnings = []
    for row in session.execute(text(_DUPLICATES), {"operator_id": operator_id}):
        if row.other:
            what = f"cabin {row.other} ({row.other_ref})"
        else:
            what = f"row {row.other_row} ({row.other_ref}) of this file"
        warnings.append(
            RowProblem(
                row.row_no,
                "location",
                f"possible duplicate: {what} is {row.metres} m away at the same venue",
            )
        )
    return warnings


def existing_cabins(session: Session, operator_id: uuid.UUID) -> list[Any]:
    """The operator's cabins that staged rows would update: (row_no, cabin, lon, lat)."""
    from service.cabins.models import Cabin

    stmt = text(
        f"SELECT s.row_no, c.id FROM {STAGING} s JOIN {LOCATED} USING (row_no)"
        " JOIN cabin c ON c.operator_id = :operator_id"
        " AND c.operator_reference = s.operator_reference"
    )
    ids = {row.id: row.row_no for row in session.execute(stmt, {"operator_id": operator_id})}
    if not ids:
        return []
    from sqlalchemy import func, select

    rows = session.execute(
        select(Cabin, func.ST_X(Cabin.geom), func.ST_Y(Cabin.geom))
        .where(Cabin.id.in_(list(ids)))
        .order_by(Cabin.id)
        .with_for_update(of=Cabin, key_share=True)  # as queries.get_visible: NO KEY UPDATE
    )
    return [(ids[cabin.id], cabin, lon, lat) for cabin, lon, lat in rows]


def free_references(session: Session) -> list[int]:
    """Staged rows whose drawn public reference is already taken (a new draw is needed)."""
    stmt = text(
        f"SELECT s.row_no FROM {STAGING} s JOIN cabin c ON c.reference = s.reference"
        " UNION SELECT row_no FROM (SELECT row_no, row_number() OVER"
        f" (PARTITION BY reference ORDER BY row_no) AS n FROM {STAGING}) d WHERE n > 1"
    )
    return [row.row_no for row in session.execute(stmt)]


def redraw_reference(session: Session, row_no: int, reference: str) -> None:
    session.execute(
        text(f"UPDATE {STAGING} SET reference = :ref WHERE row_no = :row"),
        {"ref": reference, "row": row_no},
    )


_WRITTEN = [name for name, _ in RECORD_COLUMNS]
_DERIVED = ["commune_insee", "departement_code", "region_code", "epci_siren", "commune_vintage"]
_CONFIRMED = [f"{block}_confirmed_at" for block in CONFIRMED_BLOCKS]


def _write_sql(*, updates: bool) -> str:
    """The rows are written in the order of the unique key they may conflict on: two imports
    of the same new references, whatever the order of their files, then wait for each other
    at the first reference they share instead of each holding one the other needs (a
    deadlock). `existing_cabins` locks the cabins a file updates in the order of their ids
    for the same reason.

    `updates`: some rows update the operator's cabins, by `ON CONFLICT … DO UPDATE`. A file
    of new cabins only (the common case) is a plain `INSERT`: the speculative insertion of
    `ON CONFLICT` (the unique key searched first, a lock taken and released and a second WAL
    record for every row) cost about 0.5 s of PostgreSQL CPU of the 3–5 s that 100,000 rows
    take to write. A reference another transaction created meanwhile is then the unique key's
    violation (`CreatedMeanwhile`), where the upsert would have made it an update the import
    then refused — the same outcome."""
    confirmed = ", ".join(
        f"CASE WHEN '{block}' = ANY(s.confirmed) THEN now() END" for block in CONFIRMED_BLOCKS
    )
    updated = ",\n  ".join(
        [f"{c} = EXCLUDED.{c}" for c in ["geom", *_WRITTEN, *_DERIVED]]
        + [f"{c} = COALESCE(EXCLUDED.{c}, cabin.{c})" for c in _CONFIRMED]
        + ["version = cabin.version + 1", "updated_at = now()"]
    )
    on_conflict = (
        f"ON CONFLICT (operator_id, operator_reference) DO UPDATE SET\n  {updated}\n"
        if updates
        else ""
    )
    return f"""
INSERT INTO cabin (id, reference, operator_id, operator_reference, status, geom,
  {", ".join(_WRITTEN)}, {", ".join(_DERIVED)}, {", ".join(_CONFIRMED)},
  is_demo, version, created_at, updated_at)
SELECT uuid_v7(), s.reference, :operator_id, s.operator_reference, 'draft',
  ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326),
  {", ".join(f"s.{c}" for c in _WRITTEN)}, {", ".join(f"l.{c}" for c in _DERIVED)},
  {confirmed},
  :is_demo, 1, now(), now()
FROM {STAGING} s JOIN {LOCATED} l USING (row_no)
ORDER BY s.operator_reference
{on_conflict}RETURNING id, operator_reference, reference, (xmax = 0) AS inserted
"""


UPSERT_SQL = _write_sql(updates=True)
INSERT_SQL = _write_sql(updates=False)
# The unique key of the operator's references: its violation by the plain INSERT is a cabin
# another transaction created under a reference of the file.
OPERATOR_REFERENCE_KEY = "uq_cabin_operator_id_operator_reference"


class CreatedMeanwhile(Exception):
    """A cabin was created under a new reference of the file by another transaction, after
    the import had looked for the operator's cabins."""


@dataclass(frozen=True)
class Written:
    id: uuid.UUID
    operator_reference: str
    reference: str
    inserted: bool


WRITTEN = "import_written"


def upsert(
    session: Session, operator_id: uuid.UUID, is_demo: bool, *, updates: bool
) -> list[Written]:
    """Write every located row (the caller has discarded the invalid and unchanged ones);
    what was written is also kept in a temporary table, for the audit events built in SQL.
    `updates`: whether some rows update the operator's cabins (`_write_sql`). Raises
    `CreatedMeanwhile`, the transaction still usable, when a new reference was taken meanwhile."""
    session.execute(text(f"DROP TABLE IF EXISTS {WRITTEN}"))
    session.execute(
        text(
            f"CREATE TEMPORARY TABLE {WRITTEN} (id uuid, operator_reference text,"
            " reference text, inserted boolean) ON COMMIT DROP"
        )
    )
    statement = text(
        f"WITH w AS ({UPSERT_SQL if updates else INSERT_SQL}) INSERT INTO {WRITTEN}"
        " SELECT * FROM w RETURNING id, operator_reference, reference, inserted"
    )
    values = {"operator_id": operator_id, "is_demo": is_demo}
    if updates:
        rows = session.execute(statement, values).all()
    else:
        try:
            with session.begin_nested():
                rows = session.execute(statement, values).all()
        except IntegrityError as exc:
            if taken_key(exc) == OPERATOR_REFERENCE_KEY:
                raise CreatedMeanwhile from exc
            raise
    session.execute(text(f"ANALYZE {WRITTEN}"))
    return [Written(r.id, r.operator_reference, r.reference, r.inserted) for r in rows]
