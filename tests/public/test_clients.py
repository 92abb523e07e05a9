"""Real clients, unmodified, against a real HTTP server: GDAL's OGR OAPIF driver (`ogrinfo`,
`ogr2ogr` with a spatial and an attribute filter) and OWSLib's `Features`. The server runs
uvicorn in a thread on the test database; its cabins are committed (a separate connection
cannot see the usual per-test rollback) under a dedicated operator, deleted afterwards."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from service.app import create_app
from service.settings import Settings
from tests.public.factories import make_cabin, make_operator
from tests.servers import serving

# A corner of the Cantal far from other tests' points, so the spatial filter sees only ours.
HOME = (2.6500, 45.0300)

needs_gdal = pytest.mark.skipif(shutil.which("ogr2ogr") is None, reason="GDAL (gdal-bin) missing")


@dataclass
class Committed:
    operator_id: uuid.UUID
    references: dict[str, str]  # label -> public reference


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[str]:
    app = create_app(settings.model_copy(update={"public_rate_limit_per_minute": 0}))
    with serving(app) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def committed(engine: Engine) -> Iterator[Committed]:
    with Session(engine) as session:
        op = make_operator(session, "Opérateur public-test (clients)")
        lon, lat = HOME
        made = {
            "msp": make_cabin(session, op, (lon, lat), insee="15014", venue_kind="msp"),
            "pharmacy": make_cabin(session, op, (lon + 0.01, lat), insee="15014"),
            "far_msp": make_cabin(session, op, (lon + 0.3, lat), insee="15014", venue_kind="msp"),
            "draft_msp": make_cabin(
                session, op, (lon, lat + 0.01), insee="15014", venue_kind="msp", status="draft"
            ),
        }
        references = {label: cabin.reference for label, cabin in made.items()}
        session.commit()
    try:
        yield Committed(op, references)
    finally:
        with engine.begin() as conn:
            delete_operator_cabins(conn, op)


def delete_operator_cabins(conn, operator_id: uuid.UUID) -> None:  # type: ignore[no-untyped-def]
    """Deletes the operator's cabins and any row another domain hung on them."""
    referencing = conn.execute(
        text(
            "SELECT c.conrelid::regclass::text, a.attname FROM pg_constraint c"
            " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]"
            " WHERE c.contype = 'f' AND c.confrelid = 'cabin'::regclass"
        )
    ).all()
    ids = "SELECT id FROM cabin WHERE operator_id = :op"
    for table, column in referencing:
        conn.execute(text(f'DELETE FROM {table} WHERE "{column}" IN ({ids})'), {"op": operator_id})
    conn.execute(text("DELETE FROM cabin WHERE operator_id = :op"), {"op": operator_id})
    conn.execute(text("DELETE FROM operator WHERE id = :op"), {"op": operator_id})


@needs_gdal
def test_ogrinfo_lists_the_collection(server: str, committed: Committed) -> None:
    out = subprocess.run(
        ["ogrinfo", "-ro", "-q", f"OAPIF:{server}/ogc"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "cabins" in out


@needs_gdal
def test_ogr2ogr_with_spatial_and_attribute_filters(
    server: str, committed: Committed, tmp_path: Path
) -> None:
    target = tmp_path / "out.geojson"
    lon, lat = HOME
    subprocess.run(
        [
            "ogr2ogr",
            "-f",
            "GeoJSON",
            str(target),
            f"OAPIF:{server}/ogc",
            "cabins",
            "-spat",
            str(lon - 0.05),
            str(lat - 0.05),
            str(lon + 0.05),
            str(lat + 0.05),
            "-where",
            "venue_kind = 'msp'",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    features = json.loads(target.read_text())["features"]
    got = sorted(f["properties"]["reference"] for f in features)
    assert got == [committed.references["msp"]]
    assert features[0]["geometry"]["coordinates"][:2] == pytest.approx(list(HOME), abs=1e-6)


def test_owslib_features_reads_items(server: str, committed: Committed) -> None:
    from owslib.ogcapi.features import Features

    api = Features(f"{server}/ogc")
    assert "cabins" in [c["id"] for c in api.collections()["collections"]]
    lon, lat = HOME
    items = api.collection_items(
        "cabins", bbox=[lon - 0.05, lat - 0.05, lon + 0.05, lat + 0.05], limit=10
    )
    assert items["type"] == "FeatureCollection"
    assert sorted(f["id"] for f in items["features"]) == sorted(
        [committed.references["msp"], committed.references["pharmacy"]]
    )
    one = api.collection_item("cabins", committed.references["pharmacy"])
    assert one["id"] == committed.references["pharmacy"]
    queryables = api.collection_queryables("cabins")
    assert "venue_kind" in queryables["properties"]


def test_map_window_streams_over_http(server: str, committed: Committed) -> None:
    """The window is streamed from a server-side cursor on the real read session."""
    import urllib.request

    lon, lat = HOME
    url = f"{server}/public/cabins?bbox={lon - 0.05},{lat - 0.05},{lon + 0.05},{lat + 0.05}"
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.headers["Content-Type"] == "application/geo+json"
        etag = response.headers["ETag"]
        document = json.loads(response.read())
    assert sorted(f["id"] for f in document["features"]) == sorted(
        [committed.references["msp"], committed.references["pharmacy"]]
    )
    request = urllib.request.Request(url, headers={"If-None-Match": etag})
    try:
        urllib.request.urlopen(request, timeout=30)
        raise AssertionError("expected 304")
    except urllib.error.HTTPError as exc:
        assert exc.code == 304
