"""Importers of the official formats: rows land where they should, bad rows are reported by
row number, and a rejected file writes nothing."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from service.cli import main
from service.territories.importers.common import ImportArgumentError, ImportRejected
from service.territories.importers.cpts import import_cpts
from service.territories.importers.finess import import_finess
from service.territories.importers.zones_rouges import import_zones_rouges
from service.territories.importers.zoning import import_zoning

DATA = Path(__file__).parent / "data"


def _commune_under(db: Session, finess: str) -> str | None:
    return db.execute(
        text(
            "SELECT c.insee FROM health_site h JOIN commune c ON ST_Intersects(c.geom, h.geom)"
            " AND c.layer_id IN (SELECT id FROM layer WHERE kind = 'commune' AND is_current)"
            " WHERE h.finess = :f"
            " AND h.layer_id IN (SELECT id FROM layer WHERE kind = 'health_site' AND is_current)"
        ),
        {"f": finess},
    ).scalar()


def _layer_count(db: Session, kind: str) -> int:
    return db.execute(text("SELECT count(*) FROM layer WHERE kind = :k"), {"k": kind}).scalar_one()


def test_finess_lambert93_and_utm_rows_land_in_their_commune(db: Session) -> None:
    result = import_finess(db.connection(), DATA / "finess-sample.csv", vintage="2026-09")
    assert result.row_count == 5 and result.skipped == 1  # Saint-Pierre-et-Miquelon
    assert _commune_under(db, "690012345") == "69123"  # Lambert-93, Lyon
    assert _commune_under(db, "970400017") == "97411"  # UTM 40S, Saint-Denis (Réunion)
    assert _commune_under(db, "970100025") == "97120"  # UTM 20N, Pointe-à-Pitre
    rows = {
        r.finess: r
        for r in db.execute(
            text(
                "SELECT finess, name, category, category_group, source_crs,"
                " commune_only_geocode, insee, geom IS NULL AS no_geom FROM health_site"
                " WHERE layer_id = :l"
            ),
            {"l": result.layer_id},
        )
    }
    assert rows["690012345"].name == "Pharmacie de la Préfecture"  # read as Windows-1252
    assert (rows["690012345"].category, rows["690012345"].category_group) == (620, 3301)
    assert rows["970400017"].source_crs == 2975
    assert rows["750056789"].commune_only_geocode is True
    assert rows["330063456"].no_geom and rows["330063456"].insee == "33063"


def test_bad_finess_rows_are_reported_and_nothing_is_written(db: Session) -> None:
    before = _layer_count(db, "health_site")
    conn = db.connection()
    with pytest.raises(ImportRejected) as rejected, conn.begin_nested():
        import_finess(conn, DATA / "finess-bad.csv")
    reported = {(e.row, e.field) for e in rejected.value.errors}
    assert reported == {(8, "commune"), (9, "line"), (15, "encoding")}
    reasons = {e.row: e.reason for e in rejected.value.errors}
    assert "01999" in reasons[8] and "UTF-8" in reasons[15]
    assert _layer_count(db, "health_site") == before
    assert db.execute(text("SELECT count(*) FROM health_site")).scalar_one() == 0


def test_a_byte_undefined_in_windows_1252_is_reported(db: Session, tmp_path: Path) -> None:
    data = (DATA / "finess-sample.csv").read_bytes().replace(b"BARACHOIS", b"BARA\x81HOIS")
    path = tmp_path / "finess.csv"
    path.write_bytes(data)
    with pytest.raises(ImportRejected) as rejected:
        import_finess(db.connection(), path)
    assert [(e.row, e.field) for e in rejected.value.errors] == [(3, "encoding")]


def test_cli_prints_the_report_and_exits_non_zero(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["layers", "import", "finess", str(DATA / "finess-bad.csv")])
    assert code == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("row 8\tcommune\t")
    assert len(out) == 3


def test_zoning_becomes_current_for_its_region_and_shows_in_locate(
    db: Session, client: TestClient
) -> None:
    result = import_zoning(
        db.connection(),
        DATA / "zonage-84.csv",
        region="84",
        reference="ARS-ARA-2026-001",
        reference_date=date(2026, 3, 1),
    )
    assert (result.scope, result.vintage, result.row_count) == ("84", "2026-03-01", 4)
    zones = dict(
        db.execute(
            text("SELECT insee, zone FROM medical_zone WHERE layer_id = :l"),
            {"l": result.layer_id},
        ).all()
    )
    assert zones == {"69123": "ZAC", "15141": "ZIP", "01001": "none", "63113": "none"}
    body = client.get("/v1/territories/locate", params={"lat": 45.7640, "lon": 4.8357}).json()
    assert body["medical_zone"] == {
        "zone": "ZAC",
        "scope": "84",
        "reference": "ARS-ARA-2026-001",
        "reference_date": "2026-03-01",
        "vintage": "2026-03-01",
        "synthetic": False,
        "source": body["medical_zone"]["source"],
    }


def test_zoning_rows_outside_the_region_or_unknown_are_reported(
    db: Session, tmp_path: Path
) -> None:
    path = tmp_path / "zonage.csv"
    path.write_text(
        "code_commune;zonage\n69123;ZIP\n33063;ZAC\n99999;ZIP\n69123;ZAC\n01001;maybe\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportRejected) as rejected:
        import_zoning(db.connection(), path, region="84")
    assert [(e.row, e.field) for e in rejected.value.errors] == [
        (3, "code_commune"),  # Bordeaux is in région 75
        (4, "code_commune"),  # unknown commune
        (5, "code_commune"),  # duplicate
        (6, "zonage"),
    ]
    assert rejected.value.errors[0].reason == "commune 33063 is in région 75, not 84"


def test_zoning_needs_a_known_region(db: Session) -> None:
    with pytest.raises(ImportArgumentError):
        import_zoning(db.connection(), DATA / "zonage-84.csv", region="99")


def test_cpts_are_dissolved_from_their_communes(db: Session, client: TestClient) -> None:
    result = import_cpts(db.connection(), DATA / "cpts.csv", vintage="2026")
    assert result.row_count == 2
    row = db.execute(
        text(
            "SELECT member_insee, population, ST_GeometryType(geom) AS kind,"
            " ST_Area(geom::geography) > 0 AS has_area FROM cpts"
            " WHERE layer_id = :l AND cpts_id = 'CPTS-01-002'"
        ),
        {"l": result.layer_id},
    ).one()
    assert row.member_insee == ["01001", "01002", "01004"]
    assert row.kind == "ST_MultiPolygon" and row.has_area and row.population > 10_000
    body = client.get("/v1/territories/locate", params={"lat": 45.7640, "lon": 4.8357}).json()
    assert [c["id"] for c in body["cpts"]] == ["CPTS-69-001"]
    assert body["cpts"][0]["synthetic"] is False


def test_a_commune_in_two_cpts_is_refused(db: Session, tmp_path: Path) -> None:
    path = tmp_path / "cpts.csv"
    path.write_text("id_cpts;nom_cpts;communes\nA;CPTS A;69123\nB;CPTS B;69123|01001\n")
    with pytest.raises(ImportRejected) as rejected:
        import_cpts(db.connection(), path)
    assert [(e.row, e.field) for e in rejected.value.errors] == [(3, "communes")]


def test_cpts_communes_outside_the_region_are_reported(db: Session, tmp_path: Path) -> None:
    before = _layer_count(db, "cpts")
    path = tmp_path / "cpts.csv"
    path.write_text("id_cpts;nom_cpts;communes\nA;CPTS A;69123|33063\nB;CPTS B;01001\n")
    with pytest.raises(ImportRejected) as rejected:
        import_cpts(db.connection(), path, region="84")
    assert [(e.row, e.field, e.reason) for e in rejected.value.errors] == [
        (2, "communes", "commune 33063 is in région 75, not 84")
    ]
    assert _layer_count(db, "cpts") == before


def test_zones_rouges_need_known_epci(db: Session, tmp_path: Path) -> None:
    result = import_zones_rouges(db.connection(), DATA / "zones-rouges.csv")
    assert result.row_count == 2
    path = tmp_path / "zr.csv"
    path.write_text("siren_epci\n200066637\n123456789\n12345\n")
    with pytest.raises(ImportRejected) as rejected:
        import_zones_rouges(db.connection(), path)
    assert [(e.row, e.reason) for e in rejected.value.errors] == [
        (3, "unknown EPCI SIREN 123456789"),
        (4, "'12345' is not a 9-digit SIREN"),
    ]


def test_a_new_zoning_vintage_re_evaluates_the_cabins_it_concerns(db: Session) -> None:
    from service.rules.evaluator import evaluate_cabins
    from service.rules.models import Verdict
    from service.territories.cli import _reevaluate
    from tests.rules.catalogue.factories import LYON, make_cabin, make_operator

    cabin_id = make_cabin(db, LYON, operator_id=make_operator(db))
    evaluate_cabins(db, [cabin_id])
    before = db.scalar(
        select(Verdict.evidence).where(Verdict.cabin_id == cabin_id, Verdict.rule_code == "SIT-09")
    )
    import_zoning(db.connection(), DATA / "zonage-84.csv", region="84")  # Lyon: ZAC
    _reevaluate(db.connection())
    verdict = db.execute(
        select(Verdict.outcome, Verdict.evidence).where(
            Verdict.cabin_id == cabin_id, Verdict.rule_code == "SIT-09"
        )
    ).one()
    assert verdict.outcome == "pass"
    assert verdict.evidence != before


@pytest.mark.parametrize("day", ["2099-01-01", "01/02/2024"])
def test_a_zoning_arrete_dated_in_the_future_or_not_a_date_is_refused(
    day: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from service.cli import main

    command = ["layers", "import", "zoning", str(DATA / "zonage-84.csv"), "--region", "84"]
    with pytest.raises(SystemExit) as refused:
        main([*command, "--date", day])
    assert refused.value.code == 2
    assert day in capsys.readouterr().err


# --- files as stewards have them -------------------------------------------------------------

ZONING = (
    "code_commune;libelle_commune;zonage\n69123;Lyon;ZAC\n15141;Neussargues-Moissac;ZIP\n"
    "01001;L'Abergement-Clémenciat;\n63113;Clermont-Ferrand;Hors zonage\n"
)


def _zones(db: Session, layer_id: int) -> dict[str, str]:
    return dict(
        db.execute(
            text("SELECT insee, zone FROM medical_zone WHERE layer_id = :l"), {"l": layer_id}
        ).all()
    )


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "file.csv"
    path.write_bytes(data)
    return path


def test_a_windows_1252_zoning_file_loads_with_its_accents(db: Session, tmp_path: Path) -> None:
    path = _write(tmp_path, ZONING.encode("cp1252"))
    result = import_zoning(db.connection(), path, region="84", vintage="cp1252")
    assert _zones(db, result.layer_id)["01001"] == "none"
    assert result.row_count == 4


def test_headers_in_another_case_with_accents_and_spaces_are_recognised(
    db: Session, tmp_path: Path
) -> None:
    data = ZONING.replace(
        "code_commune;libelle_commune;zonage", "Code INSEE;Libellé;ZONAGE Médecin"
    )
    result = import_zoning(db.connection(), _write(tmp_path, data.encode()), region="84")
    assert result.row_count == 4
    cpts = "ID CPTS\tNom CPTS\tCommunes membres\nCPTS-69-001\tCPTS Lyon\t69123\n"
    assert import_cpts(db.connection(), _write(tmp_path, cpts.encode())).row_count == 1


def test_codes_that_lost_their_leading_zero_and_blank_rows_load(
    db: Session, tmp_path: Path
) -> None:
    data = ZONING.replace("01001", "1001") + ";;\r\n;;\r\n\r\n"
    result = import_zoning(db.connection(), _write(tmp_path, data.encode()), region="84")
    assert _zones(db, result.layer_id)["01001"] == "none" and result.row_count == 4
    cpts = 'id_cpts,nom_cpts,communes\nCPTS-01,CPTS Bugey,"1001,1002, 01004"\n,,\n'
    result = import_cpts(db.connection(), _write(tmp_path, cpts.encode()))
    members = db.execute(
        text("SELECT member_insee FROM cpts WHERE layer_id = :l"), {"l": result.layer_id}
    ).scalar_one()
    assert members == ["01001", "01002", "01004"]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)) * 4, "Excel workbook"),
        (b"code_commune;zonage\n69123;ZAC\n\x00\x9f\x12\xe9\xff" * 50, "binary"),
    ],
)
def test_a_binary_file_is_refused_as_a_whole(
    db: Session, tmp_path: Path, data: bytes, reason: str
) -> None:
    before = _layer_count(db, "medical_zone")
    for importer in (
        lambda p: import_zoning(db.connection(), p, region="84"),
        lambda p: import_cpts(db.connection(), p),
        lambda p: import_zones_rouges(db.connection(), p),
        lambda p: import_finess(db.connection(), p),
    ):
        with pytest.raises(ImportRejected) as rejected:
            importer(_write(tmp_path, data))
        [error] = rejected.value.errors
        assert error.field == "file" and reason in error.reason
    assert _layer_count(db, "medical_zone") == before


def test_a_commune_listed_twice_names_both_rows_and_zonings(db: Session, tmp_path: Path) -> None:
    data = ZONING + "69123;Lyon;ZIP\n69123;Lyon;ZAC\n"
    with pytest.raises(ImportRejected) as rejected:
        import_zoning(db.connection(), _write(tmp_path, data.encode()), region="84")
    assert [(e.row, e.field, e.reason) for e in rejected.value.errors] == [
        (
            6,
            "code_commune",
            "69123 (ZIP) is already on row 2 with zoning ZAC: a commune has one zoning",
        ),
        (
            7,
            "code_commune",
            "69123 (ZAC) is already on row 2 with the same zoning: a commune has one zoning",
        ),
    ]


def test_an_arrondissement_is_refused_naming_its_commune(db: Session, tmp_path: Path) -> None:
    path = _write(tmp_path, b"code_commune;zonage\n75056;ZAC\n75113;ZIP\n")
    with pytest.raises(ImportRejected) as rejected:
        import_zoning(db.connection(), path, region=" 11 ")
    [error] = rejected.value.errors
    assert (error.row, error.field) == (3, "code_commune")
    assert "arrondissement of Paris" in error.reason and "75056" in error.reason


def test_finess_in_an_arrondissement_is_in_its_commune_and_utf8_loads(
    db: Session, tmp_path: Path
) -> None:
    text_1252 = (DATA / "finess-sample.csv").read_bytes().decode("cp1252")
    data = text_1252.replace(";056;75;", ";113;75;").encode("utf-8")  # saved again as UTF-8
    result = import_finess(db.connection(), _write(tmp_path, data), vintage="utf8")
    rows = dict(
        db.execute(
            text("SELECT finess, insee FROM health_site WHERE layer_id = :l"),
            {"l": result.layer_id},
        ).all()
    )
    assert rows["750056789"] == "75056" and result.row_count == 5
    name = db.execute(
        text("SELECT name FROM health_site WHERE layer_id = :l AND finess = '690012345'"),
        {"l": result.layer_id},
    ).scalar_one()
    assert name == "Pharmacie de la Préfecture"


def test_a_commune_of_an_overseas_collectivity_is_refused_saying_why(
    db: Session, tmp_path: Path
) -> None:
    path = _write(tmp_path, b"id_cpts;nom_cpts;communes\nCPTS-975;CPTS Miquelon;97501\n")
    with pytest.raises(ImportRejected) as rejected:
        import_cpts(db.connection(), path)
    [error] = rejected.value.errors
    assert (error.row, error.field) == (2, "communes")
    assert "Saint-Pierre-et-Miquelon" in error.reason and "do not cover" in error.reason


def test_a_quoted_cell_with_line_breaks_is_one_row(db: Session, tmp_path: Path) -> None:
    data = (
        'id_cpts;nom_cpts;communes\r\nCPTS-01;"CPTS ""Bugey""";"01001\r\n01002\r\n01004"\r\n'
        'CPTS-69;CPTS 5" Lyon;69123\r\n'
    )
    result = import_cpts(db.connection(), _write(tmp_path, data.encode()))
    rows = db.execute(
        text("SELECT cpts_id, name, member_insee FROM cpts WHERE layer_id = :l ORDER BY 1"),
        {"l": result.layer_id},
    ).all()
    assert [tuple(r) for r in rows] == [
        ("CPTS-01", 'CPTS "Bugey"', ["01001", "01002", "01004"]),
        ("CPTS-69", 'CPTS 5" Lyon', ["69123"]),
    ]
    unclosed = 'id_cpts;nom_cpts;communes\nCPTS-01;"CPTS Bugey;01001\nCPTS-69;CPTS Lyon;69123\n'
    with pytest.raises(ImportRejected) as rejected:
        import_cpts(db.connection(), _write(tmp_path, unclosed.encode()))
    assert [(e.row, e.field, e.reason) for e in rejected.value.errors] == [
        (2, "line", "malformed CSV: a quote opened here is never closed")
    ]


def test_zoning_in_the_arretes_full_words_is_read(db: Session, tmp_path: Path) -> None:
    data = (
        "code_commune;zonage\n69123;Zone d'intervention prioritaire\n"
        "15141;ZONE D’ACTION COMPLÉMENTAIRE\n63113;Hors-zonage\n01001;zone de vigilance\n"
    )
    result = import_zoning(db.connection(), _write(tmp_path, data.encode()), region="84")
    assert _zones(db, result.layer_id) == {
        "69123": "ZIP",
        "15141": "ZAC",
        "63113": "none",
        "01001": "none",
    }


@pytest.mark.parametrize(
    ("coordinates", "expected"),
    [
        ("nan;6519924.4", ("coordxet", "'nan' is not a number of metres")),
        ("842666.7;inf", ("coordyet", "'inf' is not a number of metres")),
        ("1e300;6519924.4", ("coordxet", "1e300 is outside EPSG:2154 (-400,000 to 1,600,000 m)")),
        ("842666.7;842666.7", ("coordyet", "842666.7 is outside EPSG:2154")),
        ("417000.0;6420000.0", ("coordxet,coordyet", "(417000, 6420000) in EPSG:2154 is 4")),
    ],
)
def test_finess_coordinates_that_cannot_be_its_place_are_refused(
    db: Session, tmp_path: Path, coordinates: str, expected: tuple[str, str]
) -> None:
    data = (
        (DATA / "finess-sample.csv")
        .read_bytes()
        .replace(b"842666.7;6519924.4", coordinates.encode())
    )
    with pytest.raises(ImportRejected) as rejected:
        import_finess(db.connection(), _write(tmp_path, data))
    [error] = rejected.value.errors
    assert (error.row, error.field) == (8, expected[0])  # the geolocalisation row
    assert error.reason.startswith(expected[1])
    assert db.execute(text("SELECT count(*) FROM health_site")).scalar_one() == 0


def test_cli_names_a_file_it_cannot_read(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    code = main(["layers", "import", "cpts", str(DATA / "cpts.csv")])
    assert code == 2
    assert capsys.readouterr().err.strip().endswith("cpts.csv: Permission denied")


def test_a_siren_grouped_with_non_breaking_spaces_is_read(db: Session, tmp_path: Path) -> None:
    data = "SIREN EPCI;Nom EPCI\n200\u00a0066\u00a0637;CC Hautes Terres\n241\u202f200\u202f641;CC\n"
    result = import_zones_rouges(db.connection(), _write(tmp_path, data.encode("utf-8")))
    sirens = db.execute(
        text("SELECT epci_siren FROM zone_rouge WHERE layer_id = :l ORDER BY 1"),
        {"l": result.layer_id},
    ).scalars()
    assert list(sirens) == ["200066637", "241200641"]


def test_a_stray_control_character_in_a_name_is_not_binary(db: Session, tmp_path: Path) -> None:
    data = (
        (DATA / "finess-sample.csv").read_bytes().replace(b"Pharmacie du B", b"Pharmacie\x0b du B")
    )
    result = import_finess(db.connection(), _write(tmp_path, data))
    assert result.row_count == 5


def test_an_imported_file_is_recorded_with_its_sha256(db: Session, client: TestClient) -> None:
    path = DATA / "zones-rouges.csv"
    result = import_zones_rouges(db.connection(), path, vintage="2025-06")
    layers = client.get("/v1/layers", params={"kind": "zone_rouge", "current": "true"}).json()
    assert [(la["id"], la["package"], la["sha256"], la["row_count"]) for la in layers] == [
        (result.layer_id, "zones-rouges.csv", hashlib.sha256(path.read_bytes()).hexdigest(), 2)
    ]


@pytest.mark.parametrize(
    ("what", "option", "takes"),
    [
        ("finess", ["--region", "84"], "--vintage"),
        ("finess", ["--reference", "X"], "--vintage"),
        ("zones-rouges", ["--date", "2026-01-15"], "--vintage, --reference"),
        ("cpts", ["--date", "2026-01-15"], "--region, --vintage, --reference"),
    ],
)
def test_an_option_the_kind_does_not_take_is_refused_not_ignored(
    what: str, option: list[str], takes: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`layers import finess FILE --region 84` loaded the national extract as if the option
    were not there: the steward believed the file was read for one région."""
    code = main(["layers", "import", what, str(tmp_path / "absent.csv"), *option])
    assert code == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: {what} takes no {option[0]}; it takes {takes}"
    ]


def test_importing_the_same_file_again_changes_nothing(db: Session) -> None:
    """A second import of one file with the same options made a new layer each time: three
    current-looking vintages 2026-03-01 of région 84 in /v1/layers, and a full re-evaluation
    for nothing. Now it answers the layer already current, as `layers load admin` does."""
    options = {"region": "84", "reference": "ARS-ARA-2026-001", "reference_date": date(2026, 3, 1)}
    first = import_zoning(db.connection(), DATA / "zonage-84.csv", **options)
    layers = db.scalar(text("SELECT count(*) FROM layer"))
    again = import_zoning(db.connection(), DATA / "zonage-84.csv", **options)
    assert (again.layer_id, again.unchanged, again.row_count) == (first.layer_id, True, 4)
    assert db.scalar(text("SELECT count(*) FROM layer")) == layers
    # another reference is another layer
    other = import_zoning(
        db.connection(), DATA / "zonage-84.csv", **(options | {"reference": "ARS-ARA-2026-002"})
    )
    assert other.layer_id != first.layer_id and not other.unchanged

    rouges = import_zones_rouges(db.connection(), DATA / "zones-rouges.csv")
    assert import_zones_rouges(db.connection(), DATA / "zones-rouges.csv").layer_id == (
        rouges.layer_id
    )
    cpts = import_cpts(db.connection(), DATA / "cpts.csv", region="84")
    assert import_cpts(db.connection(), DATA / "cpts.csv", region="84").unchanged
    assert import_cpts(db.connection(), DATA / "cpts.csv", region="84").layer_id == cpts.layer_id
    finess = import_finess(db.connection(), DATA / "finess-sample.csv")
    assert import_finess(db.connection(), DATA / "finess-sample.csv").layer_id == finess.layer_id


def test_the_same_file_again_is_known_by_its_sha256_before_it_is_parsed(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file already current was parsed, staged and checked row by row (the whole FINESS
    extract) before its sha256 said there was nothing to do."""
    from service.territories.importers import cpts, finess, zones_rouges, zoning

    first = {
        "zoning": import_zoning(db.connection(), DATA / "zonage-84.csv", region="84"),
        "cpts": import_cpts(db.connection(), DATA / "cpts.csv", region="84"),
        "zones_rouges": import_zones_rouges(db.connection(), DATA / "zones-rouges.csv"),
        "finess": import_finess(db.connection(), DATA / "finess-sample.csv"),
    }

    def not_read(*args: object, **kwargs: object) -> None:
        raise AssertionError("the file was parsed")

    for module, reader in (
        (zoning, "read_table"),
        (cpts, "read_table"),
        (zones_rouges, "read_table"),
        (finess, "parse"),
    ):
        monkeypatch.setattr(module, reader, not_read)
    again = {
        "zoning": import_zoning(db.connection(), DATA / "zonage-84.csv", region="84"),
        "cpts": import_cpts(db.connection(), DATA / "cpts.csv", region="84"),
        "zones_rouges": import_zones_rouges(db.connection(), DATA / "zones-rouges.csv"),
        "finess": import_finess(db.connection(), DATA / "finess-sample.csv"),
    }
    assert {k: (r.layer_id, r.unchanged) for k, r in again.items()} == {
        k: (r.layer_id, True) for k, r in first.items()
    }
