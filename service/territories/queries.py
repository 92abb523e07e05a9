"""SQL over the reference layers. Readers see only the current layer of each kind, through
`current_layer_ids`, and read a commune's zoning or CPTS in the one layer that answers for its
région, through `answering_layers_sql`; other domains use these functions, or the same joins in
their own set-based statements."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Integer, RowMapping, Select, String, Subquery, func, select, text
from sqlalchemy.orm import Session

from service.territories.models import LAYER_KINDS, Commune, Departement, Layer, Region


def current_layer_ids(kind: str) -> Select[int]:
    """The ids of the current layers of one kind (one per scope), for `layer_id IN (…)`."""
    return select(Layer.id).where(Layer.kind == kind, Layer.is_current)


def current_layer_ids_sql(kind: str) -> str:
    """`current_layer_ids` as SQL text, parenthesised, for `layer_id IN …` in statements
    written as text."""
    if kind not in LAYER_KINDS:
        raise ValueError(f"{kind!r} is not a layer kind")
    return f"(SELECT id FROM layer WHERE kind = '{kind}' AND is_current)"


CURRENT_COMMUNE_LAYER_IDS = current_layer_ids_sql("commune")
"""The current commune layer, for `commune.layer_id IN …` in text statements."""

_CODED: dict[str, type[Region] | type[Departement]] = {
    "region": Region,
    "departement": Departement,
}


def current_codes(session: Session, kind: str) -> list[str]:
    """The codes of the current régions (`kind` "region") or départements ("departement"),
    in order: what a parameter or a field naming one is checked against."""
    model = _CODED[kind]
    return list(
        session.scalars(
            select(model.code)
            .where(model.layer_id.in_(current_layer_ids(kind)))
            .order_by(model.code)
        )
    )


# --- which layer answers for a commune --------------------------------------------------------
# A health layer of communes (medical zoning, CPTS) may have several current layers: the
# national one (synthetic in the demo) and one per région whose official file was imported.
# The choice is made per région, never per commune: once a région has its own real layer, a
# commune that file leaves out has no row there (unknown), and the national layer no longer
# speaks for it. Every reader takes a commune's rows from the layer chosen here only.

_ANSWERING_KINDS = ("medical_zone", "cpts")


def answering_layers_sql(kind: str) -> str:
    """SQL of the relation (region, layer_id): for each région code, the current layer of
    `kind` that answers for its communes — a real layer before a synthetic one, the région's
    own before a national one (one current layer per kind and scope: `uq_layer_current`) — or
    NULL when no current layer covers the région. About twenty rows, computed once per
    statement: join it on the commune's région, then the layer's rows on (layer_id, insee).
    Written with two outer joins rather than an OR over the layers, so that the planner (whatever
    its statistics on the few rows of `layer`) sees one row per région and hashes it."""
    if kind not in _ANSWERING_KINDS:
        raise ValueError(f"{kind!r} is not a per-commune health layer")
    return f"""SELECT r.code AS region,
       CASE WHEN own.id IS NOT NULL AND (nat.id IS NULL OR NOT own.synthetic OR nat.synthetic)
            THEN own.id ELSE nat.id END AS layer_id
FROM (SELECT code FROM region
      WHERE layer_id IN {current_layer_ids_sql("region")}) r
LEFT JOIN layer own ON own.kind = '{kind}' AND own.is_current AND own.scope = r.code
LEFT JOIN layer nat ON nat.kind = '{kind}' AND nat.is_current AND nat.scope IS NULL"""


def answering_layers(kind: str, name: str) -> Subquery:
    """`answering_layers_sql` as a subquery for SQLAlchemy Core statements."""
    return text(answering_layers_sql(kind)).columns(region=String, layer_id=Integer).subquery(name)


@dataclass(frozen=True)
class CommuneRef:
    insee: str
    name: str
    departement: str
    region: str
    epci: str | None
    population: int | None
    vintage: str


_COMMUNE_COLUMNS = (
    Commune.insee,
    Commune.name,
    Commune.departement,
    Commune.region,
    Commune.epci,
    Commune.population,
    Commune.vintage,
)


def commune_at_point(session: Session, lon: float, lat: float) -> CommuneRef | None:
    """The current commune whose polygon holds the point (GiST index on `commune.geom`)."""
    point = func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)
    row = session.execute(
        select(*_COMMUNE_COLUMNS)
        .where(
            Commune.layer_id.in_(current_layer_ids("commune")),
            func.ST_Intersects(Commune.geom, point),
        )
        .limit(1)
    ).first()
    return CommuneRef(*row) if row else None


# --- the public read API ---------------------------------------------------------------------
# Each read joins only current layers; GeoJSON is built by PostGIS (ST_AsGeoJSON).

_COMMUNE_DETAIL = f"""
SELECT c.insee, c.name, c.population, c.siren, coalesce(c.postcodes, '{{}}') AS postcodes,
       c.vintage, c.departement AS departement_code, d.name AS departement_name,
       c.region AS region_code, r.name AS region_name,
       e.siren AS epci_siren, e.name AS epci_name, e.kind AS epci_kind,
       ST_AsGeoJSON(c.point, 6)::json AS point,
       CASE WHEN :geometry THEN ST_AsGeoJSON(c.geom, 6)::json END AS geometry
FROM commune c
LEFT JOIN departement d ON d.layer_id IN {current_layer_ids_sql("departement")}
                       AND d.code = c.departement
LEFT JOIN region r ON r.layer_id IN {current_layer_ids_sql("region")} AND r.code = c.region
LEFT JOIN epci e ON e.layer_id IN {current_layer_ids_sql("epci")} AND e.siren = c.epci
WHERE c.layer_id IN {current_layer_ids_sql("commune")} AND c.insee = :code
"""

_DEPARTEMENT_DETAIL = f"""
SELECT d.code, d.name, d.population, d.vintage, d.region AS region_code,
       r.name AS region_name,
       (SELECT count(*) FROM commune c
         WHERE c.layer_id IN {current_layer_ids_sql("commune")}
           AND c.departement = d.code) AS commune_count,
       CASE WHEN :geometry THEN ST_AsGeoJSON(d.geom, 6)::json END AS geometry
FROM departement d
LEFT JOIN region r ON r.layer_id IN {current_layer_ids_sql("region")} AND r.code = d.region
WHERE d.layer_id IN {current_layer_ids_sql("departement")} AND d.code = :code
"""

_REGION_DETAIL = f"""
SELECT r.code, r.name, r.population, r.vintage,
       coalesce((SELECT json_agg(json_build_object('code', d.code, 'name', d.name)
                                 ORDER BY d.code)
                 FROM departement d
                 WHERE d.layer_id IN {current_layer_ids_sql("departement")} AND d.region = r.code),
                '[]'::json) AS departements,
       CASE WHEN :geometry THEN ST_AsGeoJSON(r.geom, 6)::json END AS geometry
FROM region r
WHERE r.layer_id IN {current_layer_ids_sql("region")} AND r.code = :code
"""


def commune_detail(session: Session, insee: str, geometry: bool) -> RowMapping | None:
    return (
        session.execute(text(_COMMUNE_DETAIL), {"code": insee, "geometry": geometry})
        .mappings()
        .first()
    )


def departement_detail(session: Session, code: str, geometry: bool) -> RowMapping | None:
    return (
        session.execute(text(_DEPARTEMENT_DETAIL), {"code": code, "geometry": geometry})
        .mappings()
        .first()
    )


def region_detail(session: Session, code: str, geometry: bool) -> RowMapping | None:
    return (
        session.execute(text(_REGION_DETAIL), {"code": code, "geometry": geometry})
        .mappings()
        .first()
    )


# One statement: the commune under the point (GiST), its parents, and the zoning, CPTS and
# zone rouge of the current health layers, each with its layer's vintage and synthetic flag.
# The zoning and the CPTS come from the layer that answers for the commune's région only
# (`answering_layers_sql`): a commune its région's official file leaves out has none. CPTS
# are found through their polygon (GiST) and kept when the commune is a member.
_LOCATE = f"""
WITH p AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS g)
SELECT c.insee, c.name, c.population, c.vintage, c.departement AS departement_code,
       d.name AS departement_name, c.region AS region_code, r.name AS region_name,
       e.siren AS epci_siren, e.name AS epci_name, e.kind AS epci_kind,
       mz.medical_zone, cp.cpts, zr.zone_rouge
FROM p
CROSS JOIN LATERAL (
  SELECT c.* FROM commune c
  WHERE c.layer_id IN {current_layer_ids_sql("commune")} AND ST_Intersects(c.geom, p.g)
  ORDER BY c.insee LIMIT 1
) c
LEFT JOIN departement d ON d.layer_id IN {current_layer_ids_sql("departement")}
                       AND d.code = c.departement
LEFT JOIN region r ON r.layer_id IN {current_layer_ids_sql("region")} AND r.code = c.region
LEFT JOIN epci e ON e.layer_id IN {current_layer_ids_sql("epci")} AND e.siren = c.epci
LEFT JOIN LATERAL (
  SELECT json_build_object(
           'zone', z.zone, 'scope', l.scope, 'reference', coalesce(z.arrete_ref, l.reference),
           'reference_date', coalesce(z.arrete_date, l.reference_date),
           'vintage', l.vintage, 'synthetic', l.synthetic, 'source', l.source) AS medical_zone
  FROM ({answering_layers_sql("medical_zone")}) a
  JOIN layer l ON l.id = a.layer_id
  JOIN medical_zone z ON z.layer_id = a.layer_id AND z.insee = c.insee
  WHERE a.region = c.region
) mz ON true
LEFT JOIN LATERAL (
  SELECT coalesce(json_agg(json_build_object(
           'id', t.cpts_id, 'name', t.name, 'population', t.population,
           'vintage', l.vintage, 'synthetic', l.synthetic, 'source', l.source)
           ORDER BY l.synthetic, t.cpts_id), '[]'::json) AS cpts
  FROM ({answering_layers_sql("cpts")}) a
  JOIN layer l ON l.id = a.layer_id
  JOIN cpts t ON t.layer_id = a.layer_id
  WHERE a.region = c.region AND ST_Intersects(t.geom, p.g) AND c.insee = ANY(t.member_insee)
) cp ON true
LEFT JOIN LATERAL (
  SELECT json_build_object('epci_siren', z.epci_siren, 'vintage', l.vintage,
                           'synthetic', l.synthetic, 'source', l.source) AS zone_rouge
  FROM zone_rouge z JOIN layer l ON l.id = z.layer_id
  WHERE l.kind = 'zone_rouge' AND l.is_current AND z.epci_siren = c.epci
  ORDER BY l.synthetic LIMIT 1
) zr ON true
"""


def locate(session: Session, lon: float, lat: float) -> RowMapping | None:
    """The commune under the point with its parents and health layers; None at sea."""
    return session.execute(text(_LOCATE), {"lon": lon, "lat": lat}).mappings().first()


def list_layers(session: Session, kind: str | None, current: bool | None) -> list[RowMapping]:
    return list(
        session.execute(
            text(
                "SELECT id, kind, scope, vintage, source, synthetic, package, package_version,"
                " sha256, reference, reference_date, row_count, notes, loaded_at,"
                " load_seconds, is_current AS current FROM layer"
                " WHERE (CAST(:kind AS text) IS NULL OR kind = :kind)"
                " AND (CAST(:current AS boolean) IS NULL OR is_current = :current)"
                " ORDER BY kind, coalesce(scope, ''), loaded_at DESC, id DESC"
            ),
            {"kind": kind, "current": current},
        ).mappings()
    )
