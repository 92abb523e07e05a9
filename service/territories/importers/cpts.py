"""CPTS territories (the territory stated in each CPTS health project filed with the ARS):
a UTF-8 CSV `id_cpts;nom_cpts;communes`, the member INSEE codes separated by `,`, `|` or
spaces. Each CPTS becomes one polygon dissolved from its communes; a commune belongs to one
CPTS at most (ARS doctrine, domain-rules.md K2). Optional scope: one région."""

from __future__ import annotations

import hashlib
import re
import time
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
from service.territories.queries import CURRENT_COMMUNE_LAYER_IDS

COLUMNS = {
    "id_cpts": ("identifiant", "id", "finess", "siret", "code_cpts"),
    "nom_cpts": ("nom", "name", "raison_sociale"),
    "communes": ("codes_communes", "communes_membres", "code_commune", "members"),
}
CPTS_ID_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,31}$")


def import_cpts(
    conn: Connection,
    path: Path,
    *,
    region: str | None = None,
    vintage: str | None = None,
    reference: str | None = None,
) -> ImportResult:
    started = time.perf_counter()
    vintage = check_vintage(vintage, None)
    region = normalise_code(region) if region is not None else None
    if region is not None and not region_exists(conn, region):
        raise ImportArgumentError(f"région {region!r} is not in the current région layer")
    data = path.read_bytes()
    lock_layer_loads(conn)
    loaded = already_current(conn, "cpts", region, data, vintage=vintage, reference=reference)
    if loaded is not None:
        return loaded
    errors: list[RowError] = []
    members: list[tuple[int, str, str, str]] = []  # row, cpts id, name, insee
    ids: dict[str, int] = {}
    owner: dict[str, tuple[str, int]] = {}
    for number, values in read_table(data, COLUMNS, errors):
        cpts_id, name = values["id_cpts"], values["nom_cpts"]
        codes = [normalise_insee(c) for c in re.split(r"[,|\s]+", values["communes"]) if c]
        bad = len(errors)
        if not CPTS_ID_RE.match(cpts_id):
            errors.append(RowError(number, "id_cpts", f"{cpts_id!r} is not an identifier"))
        elif cpts_id in ids:
            errors.append(RowError(number, "id_cpts", f"{cpts_id} already on row {ids[cpts_id]}"))
        if not name:
            errors.append(RowError(number, "nom_cpts", "the CPTS has no name"))
        if not codes:
            errors.append(RowError(number, "communes", "no member commune"))
        for code in codes:
            if not INSEE_RE.match(code):
                errors.append(RowError(number, "communes", f"{code!r} is not an INSEE code"))
            elif (arrondissement := arrondissement_reason(code)) is not None:
                errors.append(RowError(number, "communes", arrondissement))
            elif code in owner and owner[code][0] != cpts_id:
                errors.append(
                    RowError(
                        number,
                        "communes",
                        f"commune {code} already belongs to CPTS {owner[code][0]}"
                        f" (row {owner[code][1]})",
                    )
                )
        if len(errors) > bad:
            continue
        ids[cpts_id] = number
        for code in dict.fromkeys(codes):
            owner[code] = (cpts_id, number)
            members.append((number, cpts_id, name, code))
    if not members and not errors:
        errors.append(RowError(1, "file", "no CPTS rows"))
    stage(conn, "cpts_stage", "row int, cpts_id text, name text, insee text", members)
    errors += unknown_communes(conn, "cpts_stage", "communes")
    if region is not None:
        errors += outside_region(conn, "cpts_stage", "communes", region)
    if errors:
        raise ImportRejected(errors)

    layer_id = create_layer(
        conn,
        NewLayer(
            kind="cpts",
            scope=region,
            vintage=vintage,
            source="CPTS territories from the health projects filed with the ARS",
            package=path.name,
            sha256=hashlib.sha256(data).hexdigest(),
            reference=reference,
            notes="Polygon: ST_Union of the member communes of the current commune layer.",
        ),
    )
    conn.execute(
        text(
            "INSERT INTO cpts (layer_id, vintage, cpts_id, name, member_insee, population, geom)"
            " SELECT :layer, :vintage, s.cpts_id, min(s.name),"
            "   array_agg(s.insee ORDER BY s.insee), sum(c.population)::int,"
            "   ST_Multi(ST_CollectionExtract(ST_Union(c.geom), 3))"
            " FROM cpts_stage s JOIN commune c ON c.insee = s.insee AND c.layer_id IN"
            f"   {CURRENT_COMMUNE_LAYER_IDS}"
            " GROUP BY s.cpts_id ORDER BY min(s.row)"
        ),
        {"layer": layer_id, "vintage": vintage},
    )
    count = finish_layer(conn, layer_id, "cpts", time.perf_counter() - started)
    make_current(conn, [layer_id])
    return ImportResult("cpts", layer_id, region, vintage, count)
