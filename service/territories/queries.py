"""SQL over the reference layers. Readers see only the current layer of each kind, through
`current_layer_ids`; other domains use these functions, or the same join in their own
set-based statements."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from service.territories.models import Commune, Layer


def current_layer_ids(kind: str) -> Select[int]:
    """The ids of the current layers of one kind (one per scope), for `layer_id IN (…)`."""
    return select(Layer.id).where(Layer.kind == kind, Layer.is_current)


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


def commune_by_insee(session: Session, insee: str) -> CommuneRef | None:
    row = session.execute(
        select(*_COMMUNE_COLUMNS).where(
            Commune.insee == insee, Commune.layer_id.in_(current_layer_ids("commune"))
        )
    ).first()
    return CommuneRef(*row) if row else None


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
