"""The public reference-data API over the real load."""

from __future__ import annotations

from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"


def test_paris_commune(client: TestClient) -> None:
    response = client.get("/v1/territories/communes/75056")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Paris" and body["population"] > 2_000_000
    assert body["departement"] == {"code": "75", "name": "Paris"}
    assert body["region"]["code"] == "11"
    assert body["epci"]["siren"] == "200054781"
    assert body["point"]["type"] == "Point"
    assert body["geometry"] is None


def test_commune_geometry_on_request(client: TestClient) -> None:
    body = client.get("/v1/territories/communes/69123", params={"geometry": "true"}).json()
    assert body["geometry"]["type"] == "MultiPolygon"
    lon, lat = body["geometry"]["coordinates"][0][0][0]
    assert 4.7 < lon < 5.0 and 45.6 < lat < 45.9


def test_unknown_commune_is_404_problem(client: TestClient) -> None:
    response = client.get("/v1/territories/communes/99999")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["errors"][0]["field"] == "insee"


def test_malformed_commune_code_is_400_problem(client: TestClient) -> None:
    response = client.get("/v1/territories/communes/7505")
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["errors"][0]["field"] == "insee"


def test_corsica_departement_and_its_region(client: TestClient) -> None:
    body = client.get("/v1/territories/departements/2A").json()
    assert body["name"] == "Corse-du-Sud" and body["region"] == {"code": "94", "name": "Corse"}
    assert body["commune_count"] == 124


def test_region_lists_its_departements_with_geometry(client: TestClient) -> None:
    body = client.get("/v1/territories/regions/04", params={"geometry": "true"}).json()
    assert body["name"] == "La Réunion"
    assert body["departements"] == [{"code": "974", "name": "La Réunion"}]
    assert body["geometry"]["type"] == "MultiPolygon"


def test_unknown_region_is_404(client: TestClient) -> None:
    assert client.get("/v1/territories/regions/99").status_code == 404


def test_locate_lyon(client: TestClient) -> None:
    response = client.get("/v1/territories/locate", params={"lat": 45.7640, "lon": 4.8357})
    assert response.status_code == 200
    body = response.json()
    assert body["commune"]["insee"] == "69123"
    assert body["epci"]["siren"] == "200046977"
    assert body["departement"]["code"] == "69" and body["region"]["code"] == "84"
    assert body["medical_zone"] is None and body["cpts"] == [] and body["zone_rouge"] is None


def test_locate_saint_denis_de_la_reunion(client: TestClient) -> None:
    body = client.get("/v1/territories/locate", params={"lat": -20.8821, "lon": 55.4504}).json()
    assert body["commune"]["insee"] == "97411"
    assert body["region"]["code"] == "04"


def test_locate_in_the_atlantic_is_404_problem(client: TestClient) -> None:
    response = client.get("/v1/territories/locate", params={"lat": 46.0, "lon": -10.0})
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == 404


def test_locate_out_of_range_is_400_naming_the_field(client: TestClient) -> None:
    response = client.get("/v1/territories/locate", params={"lat": 91, "lon": 4.8})
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert [e["field"] for e in response.json()["errors"]] == ["lat"]
    response = client.get("/v1/territories/locate", params={"lat": 45, "lon": "east"})
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["lon"]


def test_layers_lists_the_current_admin_layers(client: TestClient) -> None:
    response = client.get("/v1/layers", params={"current": "true"})
    assert response.status_code == 200
    kinds = {layer["kind"]: layer for layer in response.json()}
    assert {"commune", "departement", "region", "epci", "mairie"} <= set(kinds)
    commune = kinds["commune"]
    assert commune["row_count"] == 34_875 and commune["synthetic"] is False
    assert commune["current"] is True and commune["vintage"] == "2026"


def test_layers_rejects_an_unknown_kind(client: TestClient) -> None:
    response = client.get("/v1/layers", params={"kind": "volcano"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "kind"


def test_codes_in_lower_case_or_with_spaces_are_found(client: TestClient) -> None:
    assert client.get("/v1/territories/communes/2a004").json()["insee"] == "2A004"
    assert client.get("/v1/territories/communes/%202b033%20").json()["insee"] == "2B033"
    assert client.get("/v1/territories/departements/2b").json()["code"] == "2B"
    assert client.get("/v1/territories/departements/%20974").json()["code"] == "974"
    assert client.get("/v1/territories/regions/%2084%20").json()["code"] == "84"


def test_a_code_missing_its_leading_zero_is_400_saying_so(client: TestClient) -> None:
    response = client.get("/v1/territories/communes/1001")
    assert response.status_code == 400 and response.headers["content-type"] == PROBLEM
    [error] = response.json()["errors"]
    assert error["field"] == "insee" and "1001 is 01001" in error["reason"]
    [error] = client.get("/v1/territories/departements/xx").json()["errors"]
    assert error == {
        "field": "code",
        "reason": "must be a département code such as 01, 69, 2A or 974",
    }


def test_an_arrondissement_is_404_naming_its_commune_and_search_finds_it(
    client: TestClient,
) -> None:
    response = client.get("/v1/territories/communes/69385")
    assert response.status_code == 404
    [error] = response.json()["errors"]
    assert "arrondissement of Lyon" in error["reason"] and "69123" in error["reason"]
    items = client.get("/v1/territories/communes", params={"q": "13205"}).json()["items"]
    assert [i["insee"] for i in items] == ["13055"]


def test_locate_nan_is_400_asking_for_a_finite_number(client: TestClient) -> None:
    response = client.get("/v1/territories/locate", params={"lat": "NaN", "lon": "2.35"})
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "lat", "reason": "must be a finite number"}]


def test_locate_with_lat_and_lon_swapped_says_so(client: TestClient) -> None:
    response = client.get("/v1/territories/locate", params={"lat": 2.3522, "lon": 48.8566})
    assert response.status_code == 404
    [error] = response.json()["errors"]
    assert error["field"] == "lat,lon"
    assert error["reason"] == (
        "outside every commune; lat and lon look swapped: lat=48.8566, lon=2.3522 is in"
        " Paris (75056)"
    )
    at_sea = client.get("/v1/territories/locate", params={"lat": 45.0, "lon": -5.0}).json()
    assert at_sea["errors"][0]["reason"] == "outside every commune"


def test_an_overseas_collectivity_is_404_saying_the_layers_do_not_cover_it(
    client: TestClient,
) -> None:
    [error] = client.get("/v1/territories/communes/97502").json()["errors"]
    assert error["field"] == "insee" and error["reason"].startswith(
        "97502 is in Saint-Pierre-et-Miquelon, an overseas collectivity that the layers do not"
    )
    [error] = client.get("/v1/territories/departements/977").json()["errors"]
    assert "Saint-Barthélemy" in error["reason"]
    [error] = client.get("/v1/territories/communes/97101x").json()["errors"]
    assert error["reason"].startswith("must be an INSEE commune code")


def test_digits_of_another_script_are_not_a_code(client: TestClient) -> None:
    response = client.get("/v1/territories/communes/\u0667\u0665\u0660\u0665\u0666")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "insee"
