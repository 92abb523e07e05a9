"""`registry layers generate synthetic`: demo health layers generated from the real communes,
deterministic for a seed (reference-data.md §6), every layer marked `synthetic` with a source
naming the generator and the seed. No registry ships FINESS, CPTS perimeters or ARS zoning,
so these stand in for the demo; they never replace a real layer that is current.

- health sites: pharmacies (about 1 per 3,300 inhabitants) and laboratories placed by
  population with `ST_GeneratePoints(geom, n, seed)`; MSP, centres de santé and hospitals
  near the town hall by population thresholds; identifiers `SYN-<dép>-<n>`, never FINESS-like;
- CPTS: one per EPCI up to 175,000 inhabitants, larger EPCI split into contiguous-ish groups
  of whole communes (k-means on the commune points inside the EPCI);
- medical zoning: a synthetic GP count per commune, a two-step floating catchment (20 km)
  giving an APL-like indicator, classed ZIP (< 2.5) / ZAC (< 3.5) / none. It imitates the
  method only: it is a "zonage synthétique", not an ARS zoning."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from service.territories.layers import (
    NewLayer,
    create_layer,
    current_layer_matching,
    finish_layer,
    lock_layer_loads,
    make_current,
)
from service.territories.queries import CURRENT_COMMUNE_LAYER_IDS, current_layer_ids_sql

GENERATOR = "service.territories.synthetic@1"
KINDS = ("health_site", "cpts", "medical_zone")
DEFAULT_SEED = 42

Progress = Callable[[str], None]


def source_for(seed: int) -> str:
    return f"synthetic:{GENERATOR}, seed={seed}"


NOTES = {
    "health_site": (
        "SYNTHETIC demo data, not FINESS. Pharmacies (620) about 1 per 3,300 inhabitants and"
        " laboratories (611) 1 per 15,000, placed at random in the commune polygon"
        " (ST_GeneratePoints with the seed); MSP (603), centres de santé (124) and hospitals"
        " (355) near the town hall by population thresholds. Identifiers SYN-<dép>-<n>."
    ),
    "cpts": (
        "SYNTHETIC demo data, not ARS territories. One CPTS per EPCI up to 175,000"
        " inhabitants; larger EPCI split by k-means on their commune points. Whole communes."
    ),
    "medical_zone": (
        "SYNTHETIC zoning (zonage synthétique), not an ARS arrêté. Synthetic GP counts per"
        " commune, a two-step floating catchment within 20 km, an APL-like indicator in"
        " consultations per inhabitant per year: < 2.5 ZIP, < 3.5 ZAC, else none. It imitates"
        " the DREES/ARS method only."
    ),
}


@dataclass
class SyntheticResult:
    seed: int
    generated: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def generate_synthetic(
    engine: Engine, *, seed: int = DEFAULT_SEED, progress: Progress = print
) -> SyntheticResult:
    """Generate the synthetic layers for a seed in one transaction of its own."""
    with engine.begin() as conn:
        return generate_synthetic_on(conn, seed=seed, progress=progress)


def generate_synthetic_on(
    conn: Connection,
    *,
    seed: int = DEFAULT_SEED,
    progress: Progress = print,
    kinds: tuple[str, ...] = KINDS,
) -> SyntheticResult:
    """Generate the synthetic layers for a seed in the caller's transaction; a kind is skipped
    when the same generator and seed is current, or when a real layer of that kind is."""
    if seed <= 0:
        raise ValueError("the seed must be a positive integer")
    started = time.perf_counter()
    result = SyntheticResult(seed=seed)
    source = source_for(seed)
    lock_layer_loads(conn)
    todo: list[str] = []
    for kind in kinds:
        if kind not in KINDS:
            raise ValueError(f"no synthetic generator for {kind!r}")
        if current_layer_matching(conn, kind, None, source=source, synthetic=True):
            result.skipped[kind] = "already current for this seed"
        elif current_layer_matching(conn, kind, None, synthetic=False):
            result.skipped[kind] = "a real layer is current: synthetic data never replace it"
        else:
            todo.append(kind)
    for kind, why in result.skipped.items():
        progress(f"  - {kind}: skipped ({why})")
    if not todo:
        return result
    if not current_layer_matching(conn, "commune", None):
        raise RuntimeError("no current commune layer: run `registry layers load admin` first")
    # A bulk job: the request-sized statement timeout of the engine does not apply.
    conn.execute(text("SET LOCAL work_mem = '256MB'"))
    conn.execute(text("SET LOCAL statement_timeout = '15min'"))
    ids: dict[str, int] = {}
    for kind in todo:
        step = time.perf_counter()
        progress(f"  - {kind}: generating …")
        ids[kind] = create_layer(
            conn,
            NewLayer(
                kind=kind,
                vintage=f"synthetic-{seed}",
                source=source,
                synthetic=True,
                notes=NOTES[kind],
            ),
        )
        for statement in _SQL[kind]:
            conn.execute(text(statement), {"layer": ids[kind], "seed": seed})
        result.generated[kind] = finish_layer(conn, ids[kind], kind, time.perf_counter() - step)
        progress(f"    {result.generated[kind]} rows in {time.perf_counter() - step:.1f} s")
    make_current(conn, list(ids.values()))
    result.seconds = time.perf_counter() - started
    return result


_CURRENT_COMMUNES = (
    "SELECT insee, departement, epci, population, geom, point FROM commune"
    f" WHERE layer_id IN {CURRENT_COMMUNE_LAYER_IDS}"
    " AND geom IS NOT NULL"
)

# A deterministic fraction in [0, 1) for a commune, a purpose and the seed.
_FRACTION = "((abs(hashtext({key} || ':' || :seed)) % 100000) / 100000.0)"

_HEALTH_SITES = [
    "DROP TABLE IF EXISTS pg_temp.syn_site",
    f"""
CREATE TEMP TABLE syn_site ON COMMIT DROP AS
WITH c AS ({_CURRENT_COMMUNES}),
spread AS (  -- pharmacies and laboratories, at random inside the commune
  SELECT c.insee, c.departement, k.category, k.label, k.grp, d.path[1] AS n, d.geom
  FROM c
  CROSS JOIN (VALUES (620, 'Pharmacie d''Officine', 3301, 3300),
                     (611, 'Laboratoire de biologie médicale', 3103, 15000))
       AS k(category, label, grp, per)
  CROSS JOIN LATERAL ST_Dump(ST_GeneratePoints(c.geom, round(c.population::numeric / k.per)::int,
                                               :seed + k.category)) d
  WHERE round(c.population::numeric / k.per) >= 1
),
near_hall AS (  -- larger sites, a few hundred metres from the town hall
  SELECT c.insee, c.departement, k.category, k.label, k.grp, 1 AS n,
         ST_Project(c.point::geography, 150 + 350 * {_FRACTION.format(key="c.insee || k.label")},
                    radians(360 * {_FRACTION.format(key="k.label || c.insee")}))::geometry AS geom
  FROM c
  JOIN (VALUES (603, 'Maison de santé (L.6223-3)', 2202, 2000, 40000, 0.45),
               (124, 'Centre de Santé', 2202, 10000, 100000000, 0.8),
               (355, 'Centre Hospitalier (C.H.)', 1102, 20000, 100000000, 1.0))
       AS k(category, label, grp, min_pop, max_pop, share)
    ON c.population BETWEEN k.min_pop AND k.max_pop
  WHERE c.point IS NOT NULL AND {_FRACTION.format(key="c.insee || k.category")} < k.share
)
SELECT * FROM spread UNION ALL SELECT * FROM near_hall
""",
    """
INSERT INTO health_site (layer_id, vintage, finess, name, category, category_label,
                         category_group, insee, commune_only_geocode, source_crs, geom)
SELECT :layer, 'synthetic-' || :seed,
       'SYN-' || departement || '-'
         || lpad((row_number() OVER (PARTITION BY departement
                                     ORDER BY insee, category, n))::text, 6, '0'),
       label || ' (synthétique) ' || insee, category, label, grp, insee, false, 4326,
       ST_SetSRID(geom, 4326)
FROM syn_site
""",
]

_CPTS = [
    "DROP TABLE IF EXISTS pg_temp.syn_cpts",
    f"""
CREATE TEMP TABLE syn_cpts ON COMMIT DROP AS
WITH c AS ({_CURRENT_COMMUNES} AND epci IS NOT NULL),
e AS (SELECT epci, sum(population) AS population, count(*) AS n FROM c GROUP BY epci),
k AS (
  SELECT c.insee, c.epci, c.population, c.geom,
         CASE WHEN e.population <= 175000 THEN 0
           ELSE ST_ClusterKMeans(c.point, least(ceil(e.population / 150000.0), e.n)::int)
                OVER (PARTITION BY c.epci ORDER BY c.insee)
         END AS part
  FROM c JOIN e ON e.epci = c.epci
)
SELECT 'SYN-CPTS-' || epci || '-' || (part + 1) AS cpts_id, epci, part,
       array_agg(insee ORDER BY insee) AS members, sum(population)::int AS population,
       ST_Multi(ST_CollectionExtract(ST_Union(geom), 3)) AS geom
FROM k GROUP BY epci, part
""",
    f"""
INSERT INTO cpts (layer_id, vintage, cpts_id, name, member_insee, population, geom)
SELECT :layer, 'synthetic-' || :seed, s.cpts_id,
       'CPTS synthétique ' || coalesce(e.name, s.epci)
         || CASE WHEN count(*) OVER (PARTITION BY s.epci) > 1 THEN ' ' || (s.part + 1) ELSE '' END,
       s.members, s.population, s.geom
FROM syn_cpts s
LEFT JOIN epci e ON e.siren = s.epci
  AND e.layer_id IN {current_layer_ids_sql("epci")}
""",
]

# Two-step floating catchment: R_j = GPs_j / population within 20 km of j; A_i = sum of R_j
# within 20 km of i; the indicator is A_i x 4,000 consultations a GP gives a year.
_MEDICAL_ZONE = [
    "DROP TABLE IF EXISTS pg_temp.syn_gp",
    "DROP TABLE IF EXISTS pg_temp.syn_pair",
    f"""
CREATE TEMP TABLE syn_gp ON COMMIT DROP AS
SELECT insee, coalesce(population, 0) AS population, point,
       floor(coalesce(population, 0) / 900.0
             * (0.6 + 0.4 * least(1.0, population / greatest(ST_Area(geom::geography) / 1e6, 0.1)
                                       / 200.0))
             * (0.5 + {_FRACTION.format(key="insee || 'gp'")})
             + {_FRACTION.format(key="insee || 'round'")})::int AS gp
FROM ({_CURRENT_COMMUNES}) c
WHERE point IS NOT NULL
""",
    "CREATE INDEX ON syn_gp USING gist (point)",
    "ANALYZE syn_gp",
    """
CREATE TEMP TABLE syn_pair ON COMMIT DROP AS
SELECT a.insee AS i, b.insee AS j
FROM syn_gp a JOIN syn_gp b
  ON ST_DWithin(a.point, b.point, 0.3)
 AND ST_DistanceSphere(a.point, b.point) <= 20000
""",
    """
INSERT INTO medical_zone (layer_id, vintage, insee, zone, apl)
WITH demand AS (
  SELECT p.j, sum(g.population) AS population FROM syn_pair p JOIN syn_gp g ON g.insee = p.i
  GROUP BY p.j
),
ratio AS (
  SELECT g.insee, g.gp / nullif(d.population, 0)::float8 AS r
  FROM syn_gp g JOIN demand d ON d.j = g.insee
),
access AS (
  SELECT p.i, sum(coalesce(r.r, 0)) * 4000 AS apl FROM syn_pair p JOIN ratio r ON r.insee = p.j
  GROUP BY p.i
)
SELECT :layer, 'synthetic-' || :seed, a.i,
       CASE WHEN a.apl < 2.5 THEN 'ZIP' WHEN a.apl < 3.5 THEN 'ZAC' ELSE 'none' END,
       round(a.apl::numeric, 2)
FROM access a
""",
]

_SQL = {"health_site": _HEALTH_SITES, "cpts": _CPTS, "medical_zone": _MEDICAL_ZONE}
