"""Response models of the public reference-data API (communes, départements, régions,
locate, layers)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

GeoJSON = dict[str, Any]


class LayerRef(BaseModel):
    """Which loaded layer a value comes from."""

    vintage: str
    synthetic: bool = Field(description="True when generated for the demo, not official data.")
    source: str


class RegionRef(BaseModel):
    code: str
    name: str


class DepartementRef(BaseModel):
    code: str
    name: str


class EpciRef(BaseModel):
    siren: str
    name: str
    kind: str | None = Field(default=None, description="CC, CA, CU or ME")


class CommuneRead(BaseModel):
    insee: str = Field(description="INSEE code (COG)")
    name: str = Field(description="Official name with its article")
    population: int | None
    siren: str | None
    postcodes: list[str]
    departement: DepartementRef
    region: RegionRef
    epci: EpciRef | None
    vintage: str
    point: GeoJSON | None = Field(
        description="Cleaned town hall when within 1 km, else a point on the surface"
    )
    geometry: GeoJSON | None = Field(default=None, description="Only with ?geometry=true")


class DepartementRead(BaseModel):
    code: str
    name: str
    population: int | None
    region: RegionRef
    commune_count: int
    vintage: str
    geometry: GeoJSON | None = Field(default=None, description="Only with ?geometry=true")


class RegionRead(BaseModel):
    code: str
    name: str
    population: int | None
    departements: list[DepartementRef]
    vintage: str
    geometry: GeoJSON | None = Field(default=None, description="Only with ?geometry=true")


class CommuneBrief(BaseModel):
    insee: str
    name: str
    population: int | None
    vintage: str


class MedicalZoneAtPoint(LayerRef):
    zone: str = Field(description="ZIP, ZAC or none")
    scope: str | None = Field(description="région code of the zoning")
    reference: str | None = Field(description="ARS arrêté reference")
    reference_date: date | None


class CptsAtPoint(LayerRef):
    id: str
    name: str
    population: int | None


class ZoneRougeAtPoint(LayerRef):
    epci_siren: str


class Located(BaseModel):
    lat: float
    lon: float
    commune: CommuneBrief
    epci: EpciRef | None
    departement: DepartementRef
    region: RegionRef
    medical_zone: MedicalZoneAtPoint | None = Field(
        description="Zoning of the commune, read in the zoning in force for its région (the"
        " région's ARS zoning once imported, else the national one); null when that zoning"
        " has no row for the commune (unknown)"
    )
    cpts: list[CptsAtPoint] = Field(
        description="CPTS territories holding the commune, in the CPTS layer in force for its"
        " région (the région's own list once imported, else the national one)"
    )
    zone_rouge: ZoneRougeAtPoint | None = Field(
        description="Set when the commune's EPCI is in the current zones rouges list"
    )


class LayerRead(BaseModel):
    id: int
    kind: str
    scope: str | None
    vintage: str
    source: str
    synthetic: bool
    package: str | None
    package_version: str | None
    sha256: str | None
    reference: str | None
    reference_date: date | None
    row_count: int
    notes: str | None
    loaded_at: datetime
    load_seconds: float | None
    current: bool


class CommuneMatch(BaseModel):
    insee: str
    name: str
    departement: str
    region: str
    postcodes: list[str]
    population: int | None
    lon: float | None = Field(description="The commune's population point (town hall), WGS 84.")
    lat: float | None


class CommuneMatches(BaseModel):
    items: list[CommuneMatch]
