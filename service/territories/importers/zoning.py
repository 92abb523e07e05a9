"""Medical zoning of one région (the ARS arrêté): a UTF-8 CSV, one row per commune,
`code_commune;zonage` (ZIP, ZAC, or none), optional `libelle_commune`. Loaded as the new
current `medical_zone` layer of that région (scope = région code), with the arrêté's
reference and date."""

from __future__ import annotations

import hashlib
import time
from datetime import date
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection

from service.territories.codes import (
    INSEE_RE,
    arrondissement_reason,
    normalise_code,
    normalise_insee,
)
from service.territories.importers.common import (
    ImportArgumentError,
    ImportRejected,
    ImportResult,
    RowError,
    already_current,
    check_vintage,
    column_key,
    outside_region,
    read_table,
    region_exists,
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

COLUMNS = {
    "code_commune": (
        "code_insee",
        "insee",
        "codgeo",
        "depcom",
        "insee_com",
        "code_commune_insee",
        "code_insee_commune",
    ),
    "zonage": ("zone", "zonage_medecin", "zonage médecin", "qualification"),
}
# Zoning values compared by `column_key` (case, accents, spaces and apostrophes ignored), as
# ARS files write them: the code or the arrêté's full words.
ZONES = {
    "zip": "ZIP",
    "zac": "ZAC",
    "zone_d_intervention_prioritaire": "ZIP",
    "zone_d_action_complementaire": "ZAC",
}
NO_ZONE = {
    "",
    "none",
    "aucun",
    "aucune",
    "hors_zonage",
    "hors_zone",
    "non",
    "zv",
    "zone_de_vigilance",
}


def import_zoning(
    conn: Connection,
    path: Path,
    *,
    region: str,
    reference: str | None = None,
    reference_date: date | None = None,
    vintage: str | None = None,
) -> ImportResult:
    started = time.perf_counter()
    vintage = check_vintage(vintage, reference_date)
    region = normalise_code(region)
    if not region_exists(conn, region):
        raise ImportArgumentError(f"région {region!r} is not in the current région layer")
    data = path.read_bytes()
    lock_layer_loads(conn)
    loaded = already_current(
        conn,
        "medical_zone",
        region,
        data,
        vintage=vintage,
        reference=reference,
        reference_date=reference_date,
    )
    if loaded is not None:
        return loaded
    errors: list[RowError] = []
    rows: list[tuple[int, str, str]] = []
    seen: dict[str, tuple[int, str]] = {}
    for number, values in read_table(data, COLUMNS, errors):
        insee = normalise_insee(values["code_commune"])
        zone_text = column_key(values["zonage"])
        zone = ZONES.get(zone_text) or ("none" if zone_text in NO_ZONE else None)
        if not INSEE_RE.match(insee):
            errors.append(RowError(number, "code_commune", f"{insee!r} is not an INSEE code"))
            continue
        arrondissement = arrondissement_reason(insee)
        if arrondissement is not None:
            errors.append(RowError(number, "code_commune", arrondissement))
            continue
        if zone is None:
            errors.append(
                RowError(number, "zonage", f"{values['zonage']!r}: expected ZIP, ZAC or empty")
            )
            continue
        if insee in seen:
            first, first_zone = seen[insee]
            same = "the same zoning" if first_zone == zone else f"zoning {first_zone}"
            errors.append(
                RowError(
                    number,
                    "code_commune",
                    f"{insee} ({zone}) is already on row {first} with {same}:"
                    " a commune has one zoning",
                )
            )
            continue
        seen[insee] = (number, zone)
        rows.append((number, insee, zone))
    if not rows and not errors:
        errors.append(RowError(1, "file", "no commune rows"))
    stage(conn, "zoning_stage", "row int, insee text, zone text", rows)
    errors += unknown_communes(conn, "zoning_stage", "code_commune")
    errors += outside_region(conn, "zoning_stage", "code_commune", region)
    if errors:
        raise ImportRejected(errors)

    layer_id = create_layer(
        conn,
        NewLayer(
            kind="medical_zone",
            scope=region,
            vintage=vintage,
            source=f"ARS zoning of région {region} (arrêté of the DG ARS, L. 1434-4 CSP)",
            package=path.name,
            sha256=hashlib.sha256(data).hexdigest(),
            reference=reference,
            reference_date=reference_date,
            notes="Communes absent from the file have no zoning (unknown), not 'none'.",
        ),
    )
    conn.execute(
        text(
            "INSERT INTO medical_zone (layer_id, vintage, insee, zone, arrete_ref, arrete_date)"
            " SELECT :layer, :vintage, insee, zone, :reference, :reference_date"
            " FROM zoning_stage ORDER BY row"
        ),
        {
            "layer": layer_id,
            "vintage": vintage,
            "reference": reference,
            "reference_date": reference_date,
        },
    )
    count = finish_layer(conn, layer_id, "medical_zone", time.perf_counter() - started)
    make_current(conn, [layer_id])
    return ImportResult("medical_zone", layer_id, region, vintage, count)
