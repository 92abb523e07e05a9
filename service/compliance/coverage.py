"""The territorial-needs view: how many inhabitants live farther than a radius from an active
accessible cabin, by département or commune, and which communes of the medical zoning's ZIP /
ZAC have no active cabin at all.

Population is placed at `commune.point` — the commune's cleaned town hall (kept only when
within 1 km of the commune), else a point on the commune's surface — with the real population
of the current commune layer. A commune counts as reached when an active cabin whose
accessibility label is `accessible` lies within the radius of that point (geodesic distance on
the WGS 84 spheroid). Cabins of every operator and région count: a cabin across a border
serves its neighbours too."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.orm import Session

from service.territories.queries import answering_layers_sql, current_layer_ids_sql

POPULATION_PLACEMENT = (
    "commune.point: each commune's whole population (current commune layer) is placed at one"
    " point, its cleaned town hall (kept when within 1 km of the commune), else a point on the"
    " commune's surface (ST_PointOnSurface); distances are geodesic (WGS 84)"
)
CABINS_COUNTED = (
    "active cabins whose accessibility_label is 'accessible', of every operator and région"
)

# The first ST_DWithin, in degrees, lets the GiST index on cabin.geom find the candidates:
# its bound (1.5 × radius over the length of a degree of longitude at the point's latitude,
# plus one degree) is never shorter than the radius. The second is the exact geodesic test.
_REACHED = """
EXISTS (
  SELECT 1 FROM cabin k JOIN cabin_compliance cc ON cc.cabin_id = k.id
  WHERE k.status = 'active' AND cc.accessibility_label = 'accessible'
    AND ST_DWithin(k.geom, {point},
          :radius_m * 1.5 / (110000 * cos(radians(least(abs(ST_Y({point})) + 1, 85)))))
    AND ST_DWithin(k.geom::geography, {point}::geography, :radius_m)
)
"""

_SCOPE = """
  AND (CAST(:scope AS text) IS NULL OR c.region = :scope)
  AND (CAST(:region AS text) IS NULL OR c.region = :region)
  AND (CAST(:departement AS text) IS NULL OR c.departement = :departement)
"""

_GROUPS = {
    "departement": {
        "code": "m.departement",
        "name": "d.name",
        "join": "LEFT JOIN departement d ON d.code = m.departement AND d.layer_id IN "
        + current_layer_ids_sql("departement"),
        "cabin_key": "k.departement_code",
    },
    "commune": {
        "code": "m.insee",
        "name": "m.name",
        "join": "",
        "cabin_key": "k.commune_insee",
    },
}


def _groups_sql(by: str) -> str:
    g = _GROUPS[by]
    return f"""
WITH m AS (
  SELECT c.insee, c.name, c.departement, c.region, c.vintage,
         coalesce(c.population, 0) AS population, c.point,
         c.point IS NOT NULL AND {_REACHED.format(point="c.point")} AS reached
  FROM commune c
  WHERE c.layer_id IN {current_layer_ids_sql("commune")}
  {_SCOPE}
),
cab AS (
  SELECT {g["cabin_key"]} AS code, count(*) AS n
  FROM cabin k JOIN cabin_compliance cc ON cc.cabin_id = k.id
  WHERE k.status = 'active' AND cc.accessibility_label = 'accessible'
  GROUP BY 1
)
SELECT {g["code"]} AS code, {g["name"]} AS name,
       count(*) FILTER (WHERE m.point IS NOT NULL) AS communes,
       count(*) FILTER (WHERE m.point IS NOT NULL AND NOT m.reached) AS communes_beyond,
       coalesce(sum(m.population) FILTER (WHERE m.point IS NOT NULL), 0) AS population,
       coalesce(sum(m.population) FILTER (WHERE m.point IS NOT NULL AND NOT m.reached), 0)
         AS population_beyond,
       count(*) FILTER (WHERE m.point IS NULL) AS without_point,
       coalesce(max(cab.n), 0) AS accessible_cabins,
       max(m.vintage) AS vintage
FROM m
{g["join"]}
LEFT JOIN cab ON cab.code = {g["code"]}
GROUP BY 1, 2
ORDER BY 1
"""


# The zoning of each commune is its row in the zoning layer that answers for its région
# (`answering_layers_sql`: the région's ARS zoning once imported, else the national one), as
# the locate endpoint and the rules read it: a commune the région's file leaves out has no
# zoning and is not listed, whatever the national layer says.
_UNDERSERVED_ROWS = f"""
SELECT c.insee, c.name, c.departement, c.region, c.population, z.zone,
       l.synthetic AS zoning_synthetic,
       (c.point IS NOT NULL AND {_REACHED.format(point="c.point")})
         AS accessible_cabin_within_radius,
       count(*) OVER () AS total
FROM commune c
JOIN ({answering_layers_sql("medical_zone")}) a ON a.region = c.region
JOIN layer l ON l.id = a.layer_id
JOIN medical_zone z ON z.layer_id = a.layer_id AND z.insee = c.insee
WHERE c.layer_id IN {current_layer_ids_sql("commune")}
  AND z.zone IN ('ZIP', 'ZAC')
  {_SCOPE}
  AND NOT EXISTS (SELECT 1 FROM cabin k WHERE k.commune_insee = c.insee AND k.status = 'active')
ORDER BY c.population DESC NULLS LAST, c.insee
"""
_UNDERSERVED = _UNDERSERVED_ROWS + "LIMIT :limit\n"

# The zoning layers that answer for at least one région of the caller's scope and filters.
_ZONING_LAYERS = f"""
SELECT vintage, scope, source, synthetic, reference, reference_date
FROM layer
WHERE id IN (
  SELECT a.layer_id FROM ({answering_layers_sql("medical_zone")}) a
  WHERE (CAST(:scope AS text) IS NULL OR a.region = :scope)
    AND (CAST(:region AS text) IS NULL OR a.region = :region)
    AND (CAST(:departement AS text) IS NULL OR a.region IN (
      SELECT d.region FROM departement d
      WHERE d.code = :departement AND d.layer_id IN {current_layer_ids_sql("departement")}))
)
ORDER BY scope NULLS FIRST, id
"""


# How many communes `_UNDERSERVED` lists without its limit, when it lists none: with
# underserved_limit=0 no row carries the window's total.
_UNDERSERVED_TOTAL = f"SELECT count(*) FROM ({_UNDERSERVED_ROWS}) u"


@dataclass(frozen=True)
class CoverageResult:
    groups: Sequence[RowMapping]
    underserved: Sequence[RowMapping]
    underserved_total: int
    zoning: list[dict[str, Any]]


def coverage(
    session: Session,
    *,
    by: str,
    radius_km: float,
    scope_region: str | None,
    region: str | None,
    departement: str | None,
    underserved_limit: int,
) -> CoverageResult:
    params = {
        "radius_m": radius_km * 1000.0,
        "scope": scope_region,
        "region": region,
        "departement": departement,
    }
    groups = session.execute(text(_groups_sql(by)), params).mappings().all()
    underserved = (
        session.execute(text(_UNDERSERVED), {**params, "limit": underserved_limit}).mappings().all()
    )
    if underserved:
        underserved_total = int(underserved[0]["total"])
    elif underserved_limit == 0:
        underserved_total = int(session.scalar(text(_UNDERSERVED_TOTAL), params) or 0)
    else:
        underserved_total = 0
    zoning = [dict(r) for r in session.execute(text(_ZONING_LAYERS), params).mappings()]
    return CoverageResult(groups, underserved, underserved_total, zoning)
