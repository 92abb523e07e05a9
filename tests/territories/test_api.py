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
