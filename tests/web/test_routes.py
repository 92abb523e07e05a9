"""The pages and assets as served (no browser): HTML with a strict Content-Security-Policy,
the built bundles, problem+json for an unknown asset, and the finder's commune search."""

from __future__ import annotations

import re

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


def test_an_asset_asked_again_with_its_etag_is_a_304(client: TestClient) -> None:
    first = client.get("/static/carte.js")
    etag = first.headers["etag"]
    again = client.get("/static/carte.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    other = client.get("/static/carte.js", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.content == first.content


def test_pages_are_left_out_of_the_published_contract() -> None:
    ours = {"/", "/carte", "/regulateur", "/operateur", "/docs", "/static/{name}"}
    routes = [r for r in router.routes if isinstance(r, APIRoute)]
    assert {r.path for r in routes} == ours
    assert not any(r.include_in_schema for r in routes)


def test_the_api_reference_loads_nothing_from_another_site(client: TestClient) -> None:
    """FastAPI's own /docs loaded Swagger UI from a CDN (and /redoc Google Fonts): a reader's
    address went to third parties, and the page was blank offline."""
    response = client.get("/docs")
    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "http" not in response.text.replace('"/openapi.json"', "")
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', response.text)
    assert "/static/swagger-ui-bundle.js" in assets and "/static/docs.js" in assets
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    init = client.get("/static/docs.js").text.replace(" ", "")
    assert "/openapi.json" in init
    assert "validatorUrl:null" in init  # the default badge asks validator.swagger.io
    assert client.get("/redoc").status_code == 404
