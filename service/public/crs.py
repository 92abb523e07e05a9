"""The coordinate reference systems the open endpoints speak (OGC API Features Part 2):
CRS84 (lon/lat, the default) and Lambert-93 (EPSG:2154, easting/northing)."""

from __future__ import annotations

from dataclasses import dataclass

from service.errors import InvalidParameter

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_2154 = "http://www.opengis.net/def/crs/EPSG/0/2154"


@dataclass(frozen=True)
class Crs:
    uri: str
    srid: int
    # coordinates written with this many decimals: 1e-7 degree ≈ 1 cm; 0.01 m = 1 cm
    decimals: int


SUPPORTED: dict[str, Crs] = {
    CRS84: Crs(CRS84, 4326, 7),
    EPSG_2154: Crs(EPSG_2154, 2154, 2),
}

ALIASES = {
    "CRS84": CRS84,
    "OGC:CRS84": CRS84,
    "[OGC:CRS84]": CRS84,
    "http://www.opengis.net/def/crs/OGC/1.3/CRS84": CRS84,
    "EPSG:2154": EPSG_2154,
    "[EPSG:2154]": EPSG_2154,
    "http://www.opengis.net/def/crs/EPSG/0/2154": EPSG_2154,
}


def parse_crs(value: str | None, parameter: str) -> Crs:
    """The CRS named by a `crs` or `bbox-crs` parameter (URI or short form); CRS84 when absent."""
    if value is None or value == "":
        return SUPPORTED[CRS84]
    uri = ALIASES.get(value.strip())
    if uri is None:
        raise InvalidParameter(
            f"Unsupported CRS {value!r}.",
            errors=[
                {
                    "field": parameter,
                    "reason": f"must be one of {CRS84} or {EPSG_2154}",
                }
            ],
        )
    return SUPPORTED[uri]
