"""FINESS establishments from the public extract (domain-rules.md J1–J3): `;`-separated,
Windows-1252, a first line that is skipped, then `structureet` records (one per
establishment) and `geolocalisation` records (coordinates in the CRS declared per row in
`sourcecoordet`: Lambert-93 in mainland France, the local UTM zones overseas), transformed to
EPSG:4326 by PostGIS. Categories are kept; rows geocoded only to their commune are flagged."""

from __future__ import annotations

import hashlib
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection

from service.territories.codes import arrondissement_of
from service.territories.importers.common import (
    ImportRejected,
    ImportResult,
    RowError,
    already_current,
    check_vintage,
    decode_lines,
    detect_encoding,
    not_text,
    stage,
    unknown_communes,
)
from service.territories.layers import (
    NewLayer,
    create_layer,
    finish_layer,
    lock_layer_loads,
    make_current,
)
from service.territories.queries import CURRENT_COMMUNE_LAYER_IDS

STRUCTURE_COLUMNS = (
    "nofinesset",
    "nofinessej",
    "rs",
    "rslongue",
    "complrs",
    "compldistrib",
    "numvoie",
    "typvoie",
    "voie",
    "compvoie",
    "lieuditbp",
    "commune",
    "departement",
    "libdepartement",
    "ligneacheminement",
    "telephone",
    "telecopie",
    "categetab",
    "libcategetab",
    "categagretab",
    "libcategagretab",
    "siret",
    "codeape",
    "codemft",
    "libmft",
    "codesph",
    "libsph",
    "dateouv",
    "dateautor",
    "maj",
    "numuai",
)
GEO_COLUMNS = ("nofinesset", "coordxet", "coordyet", "sourcecoordet", "datemaj")

# The CRS token (5th of `sourcecoordet`) → EPSG code (J2).
CRS_BY_EPSG = {2154, 5490, 2975, 2972, 4471}
CRS_BY_TEXT = {"UTM ZONE 21N": 32621, "UTM ZONE 1S": 32701}

# FINESS writes the overseas départements as 9A…9F; the INSEE code is 97 + the 3-digit
# commune code. Outside the five DROM the commune layer has no communes (reference-data §2).
DROM = {"9A": "971", "9B": "972", "9C": "973", "9D": "974", "9F": "976"}
DROM.update({code: code for code in ("971", "972", "973", "974", "976")})
NOT_COVERED = re.compile(r"^(9E|975|977|978|98\d|9[G-Z])$")

# Where each CRS's coordinates can lie (metres, generous): outside, PROJ refuses to transform
# the point, or it lands on another continent.
BOUNDS_BY_SRID = {2154: ((-400_000, 1_600_000), (5_500_000, 7_600_000))}
UTM_BOUNDS = ((0, 1_000_000), (0, 10_000_000))
# A geolocated establishment farther than this from its own commune has coordinates that are
# swapped or in another system: refused rather than placed there.
MAX_OFFSET_M = 50_000

FINESS_RE = re.compile(r"^[0-9][0-9AB][0-9]{7}$")
SIRET_RE = re.compile(r"^\d{14}$")
COMMUNE_ONLY_GEOCODERS = ("ADMIN-EXPRESS",)


@dataclass
class _Structure:
    row: int
    finess: str
    finess_ej: str | None
    name: str
    category: int
    category_label: str | None
    category_group: int | None
    siret: str | None
    insee: str


@dataclass
class _Geo:
    row: int
    finess: str
    x: float
    y: float
    srid: int
    commune_only: bool


def _insee(departement: str, commune: str) -> str | None:
    """The INSEE code of the establishment's commune. FINESS places an establishment of Paris,
    Lyon or Marseille in its municipal arrondissement (75113): the layer holds the commune."""
    departement, commune = departement.strip().upper(), commune.strip()
    if not re.match(r"^\d{3}$", commune):
        return None
    if departement in DROM:
        return "97" + commune
    if re.match(r"^(\d{2}|2[AB])$", departement):
        code = departement + commune[-3:]
        parent = arrondissement_of(code)
        return parent[0] if parent else code
    return None


def _int(value: str) -> int | None:
    value = value.strip()
    return int(value) if value.isdigit() else None


def _parse_structure(row: int, fields: list[str], errors: list[RowError]) -> _Structure | None:
    values = dict(zip(STRUCTURE_COLUMNS, (f.strip() for f in fields[1:]), strict=True))
    bad = len(errors)
    finess = values["nofinesset"]
    if not FINESS_RE.match(finess):
        errors.append(RowError(row, "nofinesset", f"{finess!r} is not a 9-character FINESS"))
    name = values["rslongue"] or values["rs"]
    if not name:
        errors.append(RowError(row, "rs", "the establishment has no name"))
    category = _int(values["categetab"])
    if category is None:
        errors.append(RowError(row, "categetab", f"{values['categetab']!r} is not a category"))
    siret = values["siret"] or None
    if siret and not SIRET_RE.match(siret):
        errors.append(RowError(row, "siret", f"{siret!r} is not 14 digits"))
    insee = _insee(values["departement"], values["commune"])
    if insee is None:
        errors.append(
            RowError(
                row,
                "commune",
                f"département {values['departement']!r} + commune {values['commune']!r}"
                " is not a commune code",
            )
        )
    if len(errors) > bad or category is None or insee is None:
        return None
    return _Structure(
        row=row,
        finess=finess,
        finess_ej=values["nofinessej"] or None,
        name=name,
        category=category,
        category_label=values["libcategetab"] or None,
        category_group=_int(values["categagretab"]),
        siret=siret,
        insee=insee,
    )


def _parse_geo(row: int, fields: list[str], errors: list[RowError]) -> _Geo | None:
    values = dict(zip(GEO_COLUMNS, (f.strip() for f in fields[1:]), strict=True))
    bad = len(errors)
    coordinates: list[float] = []
    for name in ("coordxet", "coordyet"):
        try:
            coordinate = float(values[name].replace(",", "."))
        except ValueError:
            coordinate = math.nan
        if not math.isfinite(coordinate):
            errors.append(RowError(row, name, f"{values[name]!r} is not a number of metres"))
        coordinates.append(coordinate)
    tokens = [t.strip() for t in values["sourcecoordet"].split(",")]
    srid: int | None = None
    commune_only = False
    if len(tokens) < 5:
        errors.append(RowError(row, "sourcecoordet", "expected rank,provider,score,geocoder,CRS"))
    else:
        crs = tokens[4]
        epsg = re.match(r"^EPSG:(\d+)", crs)
        if epsg and int(epsg.group(1)) in CRS_BY_EPSG:
            srid = int(epsg.group(1))
        else:
            srid = next((s for t, s in CRS_BY_TEXT.items() if t in crs.upper()), None)
        if srid is None:
            errors.append(RowError(row, "sourcecoordet", f"unknown coordinate system {crs!r}"))
        score_is_number = re.match(r"^-?\d+(\.\d+)?$", tokens[2]) is not None
        commune_only = tokens[3].upper().startswith(COMMUNE_ONLY_GEOCODERS) or not score_is_number
    if len(errors) > bad or srid is None:
        return None
    for name, value, (low, high) in zip(
        ("coordxet", "coordyet"), coordinates, BOUNDS_BY_SRID.get(srid, UTM_BOUNDS), strict=True
    ):
        if not low <= value <= high:
            errors.append(
                RowError(
                    row,
                    name,
                    f"{values[name]} is outside EPSG:{srid} ({low:,} to {high:,} m):"
                    " coordinates swapped or in another system?",
                )
            )
    if len(errors) > bad:
        return None
    return _Geo(row, values["nofinesset"], coordinates[0], coordinates[1], srid, commune_only)


def parse(data: bytes) -> tuple[list[_Structure], dict[str, _Geo], int, list[RowError]]:
    """Structures, geolocations by FINESS, the number of rows outside the covered
    territory (skipped), and the row errors."""
    errors: list[RowError] = []
    structures: dict[str, _Structure] = {}
    geos: dict[str, _Geo] = {}
    skipped: set[str] = set()
    binary = not_text(data)
    if binary is not None:
        return [], {}, 0, [binary]
    # The extract is Windows-1252; the same file saved again as UTF-8 is read as UTF-8.
    for number, line in decode_lines(data, detect_encoding(data), errors):
        fields = line.rstrip("\r\n").split(";")
        record = fields[0].strip().lower()
        if number == 1 and record not in ("structureet", "geolocalisation"):
            continue  # the extract's title line (finess;etalab;…)
        if record == "structureet":
            if len(fields) != len(STRUCTURE_COLUMNS) + 1:
                errors.append(
                    RowError(
                        number,
                        "line",
                        f"structureet record with {len(fields)} fields,"
                        f" expected {len(STRUCTURE_COLUMNS) + 1}",
                    )
                )
                continue
            departement = fields[STRUCTURE_COLUMNS.index("departement") + 1].strip().upper()
            if NOT_COVERED.match(departement):
                skipped.add(fields[1].strip())
                continue
            structure = _parse_structure(number, fields, errors)
            if structure is None:
                continue
            if structure.finess in structures:
                errors.append(
                    RowError(
                        number,
                        "nofinesset",
                        f"{structure.finess} already on row {structures[structure.finess].row}",
                    )
                )
                continue
            structures[structure.finess] = structure
        elif record == "geolocalisation":
            if len(fields) != len(GEO_COLUMNS) + 1:
                errors.append(
                    RowError(
                        number,
                        "line",
                        f"geolocalisation record with {len(fields)} fields,"
                        f" expected {len(GEO_COLUMNS) + 1}",
                    )
                )
                continue
            geo = _parse_geo(number, fields, errors)
            if geo is None:
                continue
            if geo.finess in geos:
                errors.append(RowError(number, "nofinesset", f"{geo.finess} is geolocated twice"))
                continue
            geos[geo.finess] = geo
        else:
            errors.append(
                RowError(
                    number, "line", "not a structureet or geolocalisation record (malformed line)"
                )
            )
    # A geolocation whose structureet row was itself rejected is not reported a second time.
    declared = {
        raw.split(b";")[1].strip().decode("ascii", "replace")
        for raw in data.splitlines()
        if raw.lower().startswith(b"structureet;") and raw.count(b";") >= 1
    }
    for finess, geo in geos.items():
        if finess not in structures and finess not in skipped and finess not in declared:
            errors.append(RowError(geo.row, "nofinesset", f"{finess} has no structureet record"))
    return list(structures.values()), geos, len(skipped), errors


def _far_from_their_commune(conn: Connection) -> list[RowError]:
    """Geolocations (their own row) whose point lies more than MAX_OFFSET_M from the commune
    of their establishment."""
    rows = conn.execute(
        text(
            "WITH p AS (SELECT s.geo_row AS row, s.x, s.y, s.srid, s.insee,"
            "   ST_Transform(ST_SetSRID(ST_MakePoint(s.x, s.y), s.srid), 4326)::geography AS g"
            "   FROM finess_stage s WHERE s.srid IS NOT NULL)"
            " SELECT p.row, p.x, p.y, p.srid, p.insee,"
            "   round(ST_Distance(p.g, c.geom::geography) / 1000) AS km"
            " FROM p JOIN commune c ON c.insee = p.insee AND c.layer_id IN"
            f"   {CURRENT_COMMUNE_LAYER_IDS}"
            " WHERE NOT ST_DWithin(p.g, c.geom::geography, :limit)"
        ),
        {"limit": MAX_OFFSET_M},
    ).all()
    return [
        RowError(
            r.row,
            "coordxet,coordyet",
            f"({r.x:.10g}, {r.y:.10g}) in EPSG:{r.srid} is {r.km:,.0f} km from its commune"
            f" {r.insee} (more than {MAX_OFFSET_M // 1000} km):"
            " coordinates swapped or in another system?",
        )
        for r in rows
    ]


def import_finess(
    conn: Connection,
    path: Path,
    *,
    vintage: str | None = None,
    source: str = "FINESS extraction du fichier des établissements (data.gouv.fr)",
) -> ImportResult:
    """Validate the whole extract, then load it as the new current `health_site` layer."""
    started = time.perf_counter()
    vintage = check_vintage(vintage, None)
    data = path.read_bytes()
    lock_layer_loads(conn)
    loaded = already_current(conn, "health_site", None, data, vintage=vintage)
    if loaded is not None:
        return loaded
    structures, geos, skipped, errors = parse(data)
    if not structures and not errors:
        errors.append(RowError(1, "file", "no structureet record"))
    stage(
        conn,
        "finess_stage",
        "row int, finess text, finess_ej text, name text, category int, category_label text,"
        " category_group int, siret text, insee text, x float8, y float8, srid int,"
        " commune_only bool, geo_row int",
        (
            (
                s.row,
                s.finess,
                s.finess_ej,
                s.name,
                s.category,
                s.category_label,
                s.category_group,
                s.siret,
                s.insee,
                geos[s.finess].x if s.finess in geos else None,
                geos[s.finess].y if s.finess in geos else None,
                geos[s.finess].srid if s.finess in geos else None,
                geos[s.finess].commune_only if s.finess in geos else False,
                geos[s.finess].row if s.finess in geos else None,
            )
            for s in structures
        ),
    )
    errors += unknown_communes(conn, "finess_stage", "commune")
    errors += _far_from_their_commune(conn)
    if errors:
        raise ImportRejected(errors)

    layer_id = create_layer(
        conn,
        NewLayer(
            kind="health_site",
            vintage=vintage,
            source=source,
            package=path.name,
            sha256=hashlib.sha256(data).hexdigest(),
            notes=(
                f"{skipped} establishment(s) outside the five DROM and mainland skipped"
                " (no commune layer there). Rows geocoded only to their commune are flagged"
                " commune_only_geocode and must not be used for distances."
            ),
        ),
    )
    conn.execute(
        text(
            "INSERT INTO health_site (layer_id, vintage, finess, finess_ej, name, category,"
            " category_label, category_group, siret, insee, commune_only_geocode, source_crs,"
            " geom)"
            " SELECT :layer, :vintage, finess, finess_ej, name, category, category_label,"
            " category_group, siret, insee, commune_only, srid,"
            " CASE WHEN srid IS NOT NULL THEN"
            "   ST_Transform(ST_SetSRID(ST_MakePoint(x, y), srid), 4326) END"
            " FROM finess_stage ORDER BY row"
        ),
        {"layer": layer_id, "vintage": vintage},
    )
    count = finish_layer(conn, layer_id, "health_site", time.perf_counter() - started)
    make_current(conn, [layer_id])
    return ImportResult("health_site", layer_id, None, vintage, count, skipped=skipped)
