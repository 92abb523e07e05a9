"""Which layer answers for a commune on the read side (locate): once
a région's official zoning or CPTS list is imported, the national synthetic layer no longer
speaks for any commune of that région — a commune the official file leaves out has no zoning
and no CPTS there — while the communes of other régions still read the national layer."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from service.territories.importers.cpts import import_cpts
from service.territories.importers.zoning import import_zoning
from tests.rules.catalogue.factories import commune_point

LYON, VILLEURBANNE, PARIS = "69123", "69266", "75056"


def _point(db: Session, insee: str) -> dict[str, float]:
    lon, lat, _ = commune_point(db, insee)
    return {"lon": lon, "lat": lat}


def _synthetic_national(db: Session, kind: str) -> int:
    """A current national synthetic layer of `kind`, as `layers generate synthetic` makes."""
    db.execute(
        text("UPDATE layer SET is_current = false WHERE kind = :kind AND scope IS NULL"),
        {"kind": kind},
    )
    return int(
        db.execute(
            text(
                "INSERT INTO layer (kind, vintage, source, synthetic, row_count, is_current)"
                " VALUES (:kind, 'syn', 'synthetic:test, seed=1', true, 0, true) RETURNING id"
            ),
            {"kind": kind},
        ).scalar_one()
    )


def _zonings(db: Session, tmp_path: Path) -> int:
    """The synthetic national zoning (Villeurbanne, Lyon and Paris ZIP) and région 84's official
    zoning, which has Lyon (ZAC) and leaves Villeurbanne out. Returns the official layer."""
    national = _synthetic_national(db, "medical_zone")
    for insee in (LYON, VILLEURBANNE, PARIS):
        db.execute(
            text(
                "INSERT INTO medical_zone (layer_id, vintage, insee, zone)"
                " VALUES (:layer, 'syn', :insee, 'ZIP')"
            ),
            {"layer": national, "insee": insee},
        )
    path = tmp_path / "zonage-84.csv"
    path.write_text("code_commune;zonage\n69123;ZAC\n01001;\n")
    return import_zoning(db.connection(), path, region="84", vintage="2026").layer_id


def test_locate_gives_no_zoning_to_a_commune_left_out_of_its_regions_official_zoning(
    db: Session, client: TestClient, tmp_path: Path
) -> None:
    _zonings(db, tmp_path)
    left_out = client.get("/v1/territories/locate", params=_point(db, VILLEURBANNE)).json()
    assert left_out["commune"]["insee"] == VILLEURBANNE
    assert left_out["medical_zone"] is None
    lyon = client.get("/v1/territories/locate", params=_point(db, LYON)).json()["medical_zone"]
    assert (lyon["zone"], lyon["scope"], lyon["synthetic"]) == ("ZAC", "84", False)
    paris = client.get("/v1/territories/locate", params=_point(db, PARIS)).json()["medical_zone"]
    assert (paris["zone"], paris["scope"], paris["synthetic"]) == ("ZIP", None, True)


def test_locate_gives_no_cpts_to_a_commune_left_out_of_its_regions_official_cpts_list(
    db: Session, client: TestClient, tmp_path: Path
) -> None:
    national = _synthetic_national(db, "cpts")
    for cpts_id, members in (("SYN-CPTS-69", [LYON, VILLEURBANNE]), ("SYN-CPTS-75", [PARIS])):
        db.execute(
            text(
                "INSERT INTO cpts (layer_id, vintage, cpts_id, name, member_insee, geom)"
                " SELECT :layer, 'syn', :id, :name, CAST(:members AS varchar[]),"
                "   ST_Multi(ST_Union(c.geom)) FROM commune c"
                " JOIN layer l ON l.id = c.layer_id AND l.kind = 'commune' AND l.is_current"
                " WHERE c.insee = ANY(CAST(:members AS varchar[]))"
            ),
            {"layer": national, "id": cpts_id, "name": f"CPTS {cpts_id}", "members": members},
        )
    path = tmp_path / "cpts-84.csv"
    path.write_text("id_cpts;nom_cpts;communes\nCPTS-69-001;CPTS Lyon Centre;69123\n")
    import_cpts(db.connection(), path, region="84", vintage="2026")

    left_out = client.get("/v1/territories/locate", params=_point(db, VILLEURBANNE)).json()
    assert left_out["commune"]["insee"] == VILLEURBANNE
    assert left_out["cpts"] == []
    lyon = client.get("/v1/territories/locate", params=_point(db, LYON)).json()["cpts"]
    assert [(c["id"], c["synthetic"]) for c in lyon] == [("CPTS-69-001", False)]
    paris = client.get("/v1/territories/locate", params=_point(db, PARIS)).json()["cpts"]
    assert [(c["id"], c["synthetic"]) for c in paris] == [("SYN-CPTS-75", True)]
