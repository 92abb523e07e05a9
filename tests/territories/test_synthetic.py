"""The synthetic demo layers: deterministic, flagged synthetic with generator and seed,
never replacing a real layer, and shown as synthetic by the API."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from service.territories.importers.finess import import_finess
from service.territories.synthetic import generate_synthetic_on, source_for

DATA = Path(__file__).parent / "data"


def test_synthetic_layers_are_flagged_idempotent_and_shown(db: Session, client: TestClient) -> None:
    conn = db.connection()
    first = generate_synthetic_on(conn, seed=7, progress=lambda _: None)
    assert set(first.generated) == {"health_site", "cpts", "medical_zone"}
    layers = db.execute(
        text("SELECT kind, synthetic, source FROM layer WHERE is_current AND synthetic")
    ).all()
    assert {(k, s) for k, s, _ in layers} == {
        ("health_site", True),
        ("cpts", True),
        ("medical_zone", True),
    }
    assert all(source == source_for(7) and "seed=7" in source for _, _, source in layers)
    ids = db.execute(
        text(
            "SELECT count(*) FILTER (WHERE finess LIKE 'SYN-%'), count(*) FROM health_site"
            " WHERE layer_id IN (SELECT id FROM layer WHERE kind = 'health_site' AND is_current)"
        )
    ).one()
    assert ids[0] == ids[1] > 15_000

    again = generate_synthetic_on(conn, seed=7, progress=lambda _: None)
    assert again.generated == {} and set(again.skipped) == {"health_site", "cpts", "medical_zone"}

    body = client.get("/v1/territories/locate", params={"lat": 45.7640, "lon": 4.8357}).json()
    assert body["medical_zone"]["synthetic"] is True
    assert body["medical_zone"]["zone"] in {"ZIP", "ZAC", "none"}
    assert body["cpts"] and all(c["synthetic"] for c in body["cpts"])
    listed = client.get("/v1/layers", params={"current": "true", "kind": "cpts"}).json()
    assert listed[0]["synthetic"] is True and "seed=7" in listed[0]["source"]


def test_synthetic_sites_never_replace_a_real_current_layer(db: Session) -> None:
    conn = db.connection()
    real = import_finess(conn, DATA / "finess-sample.csv", vintage="real")
    result = generate_synthetic_on(conn, seed=8, progress=lambda _: None, kinds=("health_site",))
    assert "real layer" in result.skipped["health_site"] and result.generated == {}
    current = db.execute(
        text("SELECT id FROM layer WHERE kind = 'health_site' AND is_current")
    ).scalar_one()
    assert current == real.layer_id
