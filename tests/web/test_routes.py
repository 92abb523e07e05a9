"""The pages and assets as served (no browser): HTML with a strict Content-Security-Policy,
the built bundles, problem+json for an unknown asset, and the finder's commune search."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from service.web.routes import router


@pytest.mark.parametrize(
    ("path", "script"),
    [
        ("/", "carte"),
        ("/carte", "carte"),
        ("/regulateur", "regulateur"),
        ("/operateur", "operateur"),
    ],
)
def test_pages_are_served_as_html_with_their_bundle(
    client: TestClient, path: str, script: str
) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert f'src="/static/{script}.js"' in response.text
    assert '<html lang="fr">' in response.text


@pytest.mark.parametrize("name", ["carte.js", "carte.css", "regulateur.js", "operateur.js"])
def test_built_assets_are_served(client: TestClient, name: str) -> None:
    response = client.get(f"/static/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] in ("text/javascript", "text/css")
    assert len(response.content) > 1000


@pytest.mark.parametrize("name", ["nothing.js", "..%2Fapp.py", "routes.py", "carte"])
def test_an_unknown_asset_is_a_problem_not_a_file(client: TestClient, name: str) -> None:
    response = client.get(f"/static/{name}")
    assert response.status_code in (400, 404)
    assert response.headers["content-type"] == "application/problem+json"


def test_pages_are_left_out_of_the_published_contract() -> None:
    ours = {"/", "/carte", "/regulateur", "/operateur", "/static/{name}", "/web/communes"}
    routes = [r for r in router.routes if isinstance(r, APIRoute)]
    assert {r.path for r in routes} == ours
    assert not any(r.include_in_schema for r in routes)


def test_commune_search_by_name_ignores_accents_and_case(client: TestClient) -> None:
    items = client.get("/web/communes", params={"q": "besancon"}).json()["items"]
    assert items[0]["insee"] == "25056"
    assert items[0]["name"] == "Besançon"
    assert -180 <= items[0]["lon"] <= 180 and -90 <= items[0]["lat"] <= 90


def test_commune_search_puts_the_most_populated_first(client: TestClient) -> None:
    items = client.get("/web/communes", params={"q": "Lyon", "limit": 5}).json()["items"]
    assert items[0]["insee"] == "69123"
    assert len(items) <= 5


def test_commune_search_by_insee_code_or_postcode(client: TestClient) -> None:
    assert client.get("/web/communes", params={"q": "69123"}).json()["items"][0]["name"] == "Lyon"
    by_postcode = client.get("/web/communes", params={"q": "75004"}).json()["items"]
    assert [c["insee"] for c in by_postcode] == ["75056"]


def test_commune_search_treats_like_wildcards_as_text(client: TestClient) -> None:
    assert client.get("/web/communes", params={"q": "%"}).json()["items"] == []


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "   "}, {"q": "Lyon", "limit": 0}])
def test_commune_search_rejects_bad_parameters(client: TestClient, params: dict) -> None:
    response = client.get("/web/communes", params=params)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] in ("q", "limit")
