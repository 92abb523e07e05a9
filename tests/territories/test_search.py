"""Commune search (`GET /v1/territories/communes?q=`): by name without accents or case, by
INSEE code or postcode, most populated first; LIKE wildcards are text; bad parameters 400."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


def test_commune_search_by_name_ignores_accents_and_case(client: TestClient) -> None:
    items = client.get("/v1/territories/communes", params={"q": "besancon"}).json()["items"]
    assert items[0]["insee"] == "25056"
    assert items[0]["name"] == "Besançon"
    assert -180 <= items[0]["lon"] <= 180 and -90 <= items[0]["lat"] <= 90


def test_commune_search_puts_the_most_populated_first(client: TestClient) -> None:
    items = client.get("/v1/territories/communes", params={"q": "Lyon", "limit": 5}).json()["items"]
    assert items[0]["insee"] == "69123"
    assert len(items) <= 5


def test_commune_search_by_insee_code_or_postcode(client: TestClient) -> None:
    assert (
        client.get("/v1/territories/communes", params={"q": "69123"}).json()["items"][0]["name"]
        == "Lyon"
    )
    by_postcode = client.get("/v1/territories/communes", params={"q": "75004"}).json()["items"]
    assert [c["insee"] for c in by_postcode] == ["75056"]


def test_commune_search_treats_like_wildcards_as_text(client: TestClient) -> None:
    assert client.get("/v1/territories/communes", params={"q": "%"}).json()["items"] == []


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": ""},
        {"q": "   "},
        {"q": "Lyon", "limit": 0},
        {"q": "\x00"},  # a NUL reached PostgreSQL: a 500
        {"q": "Ly\x00on"},
        {"q": "Ly\x07on"},
        {"q": "Lyon\x7f"},
        {"q": "Lyon\x85"},
    ],
)
def test_commune_search_rejects_bad_parameters(client: TestClient, params: dict) -> None:
    response = client.get("/v1/territories/communes", params=params)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] in ("q", "limit")


@pytest.mark.parametrize(
    ("typed", "insee"),
    [
        ("St Etienne", "42218"),
        ("st-étienne", "42218"),
        ("Ste. Foy-lès-Lyon", "69202"),
        ("oeuilly", "51410"),
        ("Œuilly", "51410"),
    ],
)
def test_commune_search_reads_st_ste_and_ligatures_as_written_out(
    client: TestClient, typed: str, insee: str
) -> None:
    items = client.get("/v1/territories/communes", params={"q": typed}).json()["items"]
    assert insee in [c["insee"] for c in items]
