"""The coordinate reference systems the open endpoints speak (OGC API Features Part 2):
CRS84 (lon/lat, the default), and France's official projected systems, easting/northing in
metres: Lambert-93 for mainland France and Corsica, and the UTM zone of each overseas
département (design.md §5). A projection far from its area still gives numbers, not sense: a
finder app showing Réunion asks for EPSG:2975, not Lambert-93."""

from __future__ import annotations

from dataclasses import dataclass

from service.errors import InvalidParameter

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def epsg_uri(code: int) -> str:
    return f"http://www.opengis.net/def/crs/EPSG/0/{code}"


PROJECTED = (
    2154,  # RGF93 / Lambert-93: mainland France and Corsica
    5490,  # RGAF09 / UTM zone 20N: Guadeloupe and Martinique
    2972,  # RGFG95 / UTM zone 22N: Guyane
    2975,  # RGR92 / UTM zone 40S: La Réunion
    4471,  # RGM04 / UTM zone 38S: Mayotte
)


@dataclass(frozen=True)
class Crs:
    uri: str
    srid: int
    # coordinates written with this many decimals: 1e-7 degree ≈ 1 cm; 0.01 m = 1 cm
    decimals: int


SUPPORTED: dict[str, Crs] = {
    CRS84: Crs(CRS84, 4326, 7),
    **{epsg_uri(code): Crs(epsg_uri(code), code, 2) for code in PROJECTED},
}

ALIASES = {
    CRS84: CRS84,
    "CRS84": CRS84,
    "OGC:CRS84": CRS84,
    "[OGC:CRS84]": CRS84,
    **{
        alias: epsg_uri(code)
        for code in PROJECTED
        for alias in (epsg_uri(code), f"EPSG:{code}", f"[EPSG:{code}]")
    },
}


def parse_crs(value: str | None, parameter: str) -> Crs:
    """The CRS named by a `crs` or `bbox-crs` parameter (URI or short form); CRS84 when absent."""
    if value is None or value == "":
        return SUPPORTED[CRS84]
    uri = ALIASES.get(value.strip())
    if uri is None:
        codes = ", ".join(f"EPSG:{code}" for code in PROJECTED)
        raise InvalidParameter(
            f"Unsupported CRS {value!r}.",
            errors=[
                {
                    "field": parameter,
                    "reason": f"must be {CRS84} (CRS84) or one of {codes}, as a URI or short form",
                }
            ],
        )
    return SUPPORTED[uri]
