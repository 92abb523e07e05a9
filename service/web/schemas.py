"""Response shape of the pages' commune search."""

from __future__ import annotations

from pydantic import BaseModel, Field


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
