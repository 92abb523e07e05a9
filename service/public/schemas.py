"""Response shapes of the open endpoints, for the published contract (the bodies themselves are
built as JSON by PostgreSQL and passed through)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

GEOJSON = "application/geo+json"


def geojson_200(model: str, description: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` documenting a 200 as application/geo+json with the model's schema."""
    schema = {"$ref": f"#/components/schemas/{model}"}
    return {200: {"description": description, "content": {GEOJSON: {"schema": schema}}}}


GEOJSON_200 = geojson_200("FeatureCollection", "GeoJSON FeatureCollection (RFC 7946)")
GEOJSON_FEATURE_200 = geojson_200("Feature", "GeoJSON Feature (RFC 7946)")


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Link(Open):
    href: str
    rel: str
    type: str | None = None
    title: str | None = None


class Feature(Open):
    type: Literal["Feature"]
    id: str = Field(description="The cabin's public reference (CAB-…).")
    geometry: dict[str, Any] = Field(description="GeoJSON Point, lon/lat (or the `crs` asked).")
    properties: dict[str, Any]


class FeatureCollection(Open):
    type: Literal["FeatureCollection"]
    features: list[Feature]
    links: list[Link] | None = None
    numberReturned: int | None = None
    numberMatched: int | None = Field(
        default=None, description="Present when known without a full count (the last page)."
    )
    timeStamp: str | None = None


class NeedCriterion(Open):
    field: str
    value: Any = None
    met: bool | None = Field(description="null = unknown (the fact is not recorded)")


class NeedEvidence(Open):
    status: Literal["met", "not_met", "unknown"]
    criteria: list[NeedCriterion]


class NearestCabin(Open):
    reference: str
    distance_m: float = Field(description="Geodesic distance (WGS 84 ellipsoid), metres.")
    lon: float
    lat: float
    match: Literal["met", "unknown"] | None = Field(
        default=None,
        description="With `needs`: `met` when every need is met, `unknown` when some data is"
        " missing (only with include_unknown=true).",
    )
    needs: dict[str, NeedEvidence] | None = None
    properties: dict[str, Any]


class NearestQuery(Open):
    lat: float
    lon: float
    limit: int
    radius_m: float | None
    needs: list[str]
    min_door_width_cm: float | None
    include_unknown: bool
    accessible: bool


class NearestResponse(Open):
    query: NearestQuery
    results: list[NearestCabin]


class LandingPage(Open):
    title: str
    description: str
    links: list[Link]


class Conformance(Open):
    conformsTo: list[str]


class Collection(Open):
    id: str
    title: str
    description: str | None = None
    links: list[Link]
    extent: dict[str, Any] | None = None
    itemType: str | None = None
    crs: list[str] | None = None
    storageCrs: str | None = None


class Collections(Open):
    links: list[Link]
    collections: list[Collection]


class Queryables(Open):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    schema_: str = Field(alias="$schema")
    id_: str = Field(alias="$id")
    type: Literal["object"]
    title: str | None = None
    properties: dict[str, Any]
    additionalProperties: bool | None = None
