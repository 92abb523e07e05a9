"""Zones rouges (the ministry's list of priority EPCI, June 2025, domain-rules.md I7): a UTF-8
CSV with a `siren_epci` column (optional `nom_epci`). Every SIREN must be an EPCI of the
current EPCI layer. Loaded as the new current `zone_rouge` layer."""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection

from service.territories.importers.common import (
    SIREN_RE,
    ImportRejected,
    ImportResult,
    RowError,
    already_current,
    check_vintage,
    read_table,
    stage,
)
from service.territories.layers import (
    NewLayer,
    create_layer,
    finish_layer,
    lock_layer_loads,
    make_current,
)
from service.territories.queries import current_layer_ids_sql

COLUMNS = {"siren_epci": ("siren", "epci", "code_epci", "siren epci")}


def import_zones_rouges(
    conn: Connection,
    path: Path,
    *,
    vintage: str | None = None,
    reference: str | None = None,
) -> ImportResult:
    started = time.perf_counter()
    vintage = check_vintage(vintage, None)
    data = path.read_bytes()
    lock_layer_loads(conn)
    loaded = already_current(conn, "zone_rouge", None, data, vintage=vintage, reference=reference)
    if loaded is not None:
        return loaded
    errors: list[RowError] = []
    rows: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for number, values in read_table(data, COLUMNS, errors):
        # Spreadsheets group digits with spaces, often non-breaking ones (200 066 637).
        siren = re.sub(r"\s", "", values["siren_epci"])
        if not SIREN_RE.match(siren):
            errors.append(RowError(number, "siren_epci", f"{siren!r} is not a 9-digit SIREN"))
        elif siren in seen:
            errors.append(RowError(number, "siren_epci", f"{siren} already on row {seen[siren]}"))
        else:
            seen[siren] = number
            rows.append((number, siren))
    if not rows and not errors:
        errors.append(RowError(1, "file", "no EPCI rows"))
    stage(conn, "zone_rouge_stage", "row int, siren text", rows)
    unknown = conn.execute(
        text(
            "SELECT s.row, s.siren FROM zone_rouge_stage s WHERE NOT EXISTS ("
            " SELECT 1 FROM epci e WHERE e.siren = s.siren AND e.layer_id IN"
            f" {current_layer_ids_sql('epci')})"
        )
    ).all()
    errors += [RowError(r, "siren_epci", f"unknown EPCI SIREN {s}") for r, s in unknown]
    if errors:
        raise ImportRejected(errors)

    layer_id = create_layer(
        conn,
        NewLayer(
            kind="zone_rouge",
            vintage=vintage,
            source="Ministry list of priority intercommunalités (zones rouges)",
            package=path.name,
            sha256=hashlib.sha256(data).hexdigest(),
            reference=reference,
        ),
    )
    conn.execute(
        text(
            "INSERT INTO zone_rouge (layer_id, vintage, epci_siren)"
            " SELECT :layer, :vintage, siren FROM zone_rouge_stage ORDER BY row"
        ),
        {"layer": layer_id, "vintage": vintage},
    )
    count = finish_layer(conn, layer_id, "zone_rouge", time.perf_counter() - started)
    make_current(conn, [layer_id])
    return ImportResult("zone_rouge", layer_id, None, vintage, count)
