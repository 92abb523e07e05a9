"""Coverage and territorial needs on a constructed case over the real communes of the Rhône
(69), whose answer is known: which commune population points lie within the radius of an
active accessible cabin, and which ZIP / ZAC communes have no active cabin."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.territories.models import Commune, Layer, MedicalZone
from service.territories.queries import current_layer_ids
from tests.auth.factories import bearer, make_key, make_operator
from tests.compliance.factories import ensure_rule_set, make_cabin, medical_zoning, place

LYON, VILLEURBANNE, VENISSIEUX, BRON, CALUIRE = "69123", "69266", "69259", "69029", "69034"


@pytest.fixture
def case(db: Session) -> dict[str, Any]:
    version, _ = ensure_rule_set(db)
    op = make_operator(db, "Cabines du Rhône")
    # reached at any radius: an active accessible cabin on Lyon's population point
    make_cabin(db, op, LYON, rule_set_version=version)
    # never reaching: a cabin not labelled accessible, and a suspended accessible one
    make_cabin(db, op, VILLEURBANNE, accessibility="partial", rule_set_version=version)
    make_cabin(db, op, VENISSIEUX, status="suspended", rule_set_version=version)
    # 3 km east of Caluire's point (Lyon's cabin is 3.28 km from it; no other commune point
    # lies within 2.8 km of it)
    make_cabin(db, op, CALUIRE, offset_m=(3000, 0), rule_set_version=version)
    medical_zoning(
        db, {VILLEURBANNE: "ZIP", VENISSIEUX: "ZIP", BRON: "ZAC", CALUIRE: "ZIP", LYON: "none"}
    )
    total = db.execute(
        select(func.count(), func.sum(Commune.population)).where(
            Commune.departement == "69", Commune.layer_id.in_(current_layer_ids("commune"))
        )
    ).one()
    keys = {
        "ars_84": bearer(make_key(db, "regulator", scope="region:84")),
        "ars_11": bearer(make_key(db, "regulator", scope="region:11")),
        "national": bearer(make_key(db, "regulator", scope="national")),
        "operator": bearer(make_key(db, "operator", operator_id=op)),
    }
    db.commit()
    return {"communes": total[0], "population": total[1], "keys": keys}


def test_population_beyond_the_radius_counts_every_commune_but_the_reached_one(
    client, db: Session, case: dict[str, Any]
) -> None:
    r = client.get(
        "/v1/compliance/coverage",
        params={"by": "departement", "departement": "69", "radius_km": 0.5},
        headers=case["keys"]["ars_84"],
    )
    assert r.status_code == 200, r.text
    body = r.json()
    (group,) = body["groups"]
    lyon = place(db, LYON).population
    assert group["code"] == "69" and group["name"] == "Rhône"
    assert group["communes"] == case["communes"]
    assert group["population"] == case["population"]
    assert group["communes_beyond"] == case["communes"] - 1
    assert group["population_beyond"] == case["population"] - lyon
    assert group["share_beyond"] == round((case["population"] - lyon) / case["population"], 4)
    assert group["accessible_cabins"] == 2
    assert body["total"]["population_beyond"] == group["population_beyond"]
    assert body["population_placement"].startswith("commune.point")
    assert body["radius_km"] == 0.5


def test_the_radius_decides_whether_a_commune_is_reached(client, case: dict[str, Any]) -> None:
    def caluire(radius: float) -> dict[str, Any]:
        r = client.get(
            "/v1/compliance/coverage",
            params={"by": "commune", "departement": "69", "radius_km": radius},
            headers=case["keys"]["national"],
        )
        assert r.status_code == 200, r.text
        return next(g for g in r.json()["groups"] if g["code"] == CALUIRE)

    assert caluire(2)["communes_beyond"] == 1
    assert caluire(2)["population_beyond"] == caluire(2)["population"] > 0
    assert caluire(3.1)["communes_beyond"] == 0
    assert caluire(3.1)["population_beyond"] == 0


def test_underserved_lists_zip_and_zac_communes_without_an_active_cabin(
    client, case: dict[str, Any]
) -> None:
    r = client.get(
        "/v1/compliance/coverage",
        params={"departement": "69", "radius_km": 0.5},
        headers=case["keys"]["ars_84"],
    )
    body = r.json()
    # Villeurbanne and Caluire have an active cabin; Vénissieux's is suspended; Lyon is 'none'.
    assert [c["insee"] for c in body["underserved"]] == [VENISSIEUX, BRON]
    assert [c["zone"] for c in body["underserved"]] == ["ZIP", "ZAC"]
    assert body["underserved_total"] == 2
    assert not any(c["accessible_cabin_within_radius"] for c in body["underserved"])
    assert body["medical_zoning"][0]["synthetic"] is True


@pytest.mark.parametrize("limit", [0, 1])
def test_underserved_total_counts_every_commune_whatever_the_limit(
    client, case: dict[str, Any], limit: int
) -> None:
    """The total was counted over the listed rows: underserved_limit=0 (the figure without
    the list) read 0 under-served communes."""
    r = client.get(
        "/v1/compliance/coverage",
        params={"departement": "69", "radius_km": 0.5, "underserved_limit": limit},
        headers=case["keys"]["ars_84"],
    )
    assert r.status_code == 200, r.text
    assert len(r.json()["underserved"]) == limit
    assert r.json()["underserved_total"] == 2


def test_a_commune_left_out_of_its_regions_official_zoning_is_not_underserved(
    client, db: Session, case: dict[str, Any]
) -> None:
    # The national synthetic zoning of the case also zones Paris; région 84's official
    # zoning has Bron (ZAC) and Lyon and leaves Vénissieux (synthetic ZIP) out.
    national = db.scalar(select(Layer.id).where(Layer.kind == "medical_zone", Layer.is_current))
    db.add(MedicalZone(layer_id=national, vintage="test", insee="75056", zone="ZIP"))
    official = Layer(kind="medical_zone", scope="84", vintage="2026", source="ARS", is_current=True)
    db.add(official)
    db.flush()
    for insee, zone in ((BRON, "ZAC"), (LYON, "none")):
        db.add(MedicalZone(layer_id=official.id, vintage="2026", insee=insee, zone=zone))
    db.flush()

    body = client.get(
        "/v1/compliance/coverage",
        params={"departement": "69", "radius_km": 0.5},
        headers=case["keys"]["ars_84"],
    ).json()
    assert [(c["insee"], c["zone"]) for c in body["underserved"]] == [(BRON, "ZAC")]
    assert body["underserved"][0]["zoning_synthetic"] is False
    assert [(z["scope"], z["synthetic"]) for z in body["medical_zoning"]] == [("84", False)]

    body = client.get(
        "/v1/compliance/coverage", params={"region": "11"}, headers=case["keys"]["national"]
    ).json()
    assert [(c["insee"], c["zoning_synthetic"]) for c in body["underserved"]] == [("75056", True)]
    assert [(z["scope"], z["synthetic"]) for z in body["medical_zoning"]] == [(None, True)]


def test_a_regional_regulator_is_refused_outside_its_region(client, case: dict[str, Any]) -> None:
    r = client.get(
        "/v1/compliance/coverage",
        params={"departement": "69"},
        headers=case["keys"]["ars_11"],
    )
    assert r.status_code == 403
    assert r.json()["errors"][0]["field"] == "departement"


def test_coverage_is_for_regulators(client, case: dict[str, Any]) -> None:
    r = client.get("/v1/compliance/coverage", headers=case["keys"]["operator"])
    assert r.status_code == 403
    assert client.get("/v1/compliance/coverage").status_code == 401


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"by": "region"}, "by"),
        ({"departement": "6999"}, "departement"),
        ({"region": "99"}, "region"),
        ({"radius_km": "0"}, "radius_km"),
        ({"radius_km": "1e-320"}, "radius_km"),
        ({"radius_km": "ten"}, "radius_km"),
        ({"radius_km": "nan"}, "radius_km"),
        ({"radius_km": "inf"}, "radius_km"),
    ],
)
def test_bad_coverage_parameters_are_400_naming_them(
    client, case: dict[str, Any], params: dict[str, str], field: str
) -> None:
    r = client.get("/v1/compliance/coverage", params=params, headers=case["keys"]["national"])
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in r.json()["errors"]] == [field]
    if params.get(field) in ("nan", "inf"):
        # not "should be less than or equal to 200", which NaN is not either
        assert "finite" in r.json()["errors"][0]["reason"]


def test_a_commune_without_a_point_is_counted_apart_not_listed_with_no_inhabitants(
    client, db: Session, case: dict[str, Any]
) -> None:
    """A commune of the layer with no population point (no geometry: four communes déléguées
    of the Cantal in the 2026 layer) was listed by commune with population 0 and 0
    communes, though it has inhabitants: it is left out of the figures, so it is no group;
    communes_without_point counts it."""
    bron = db.scalars(
        select(Commune).where(
            Commune.insee == BRON, Commune.layer_id.in_(current_layer_ids("commune"))
        )
    ).one()
    bron.point = None
    db.flush()
    for by in ("commune", "departement"):
        r = client.get(
            "/v1/compliance/coverage",
            params={"by": by, "departement": "69"},
            headers=case["keys"]["national"],
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["communes_without_point"] == 1
        assert body["total"]["communes"] == case["communes"] - 1
        assert all(g["communes"] > 0 for g in body["groups"]), by
        assert BRON not in {g["code"] for g in body["groups"]}
