"""A query parameter that a `/v1` or `/public` route does not declare, or gives twice when the
route does not declare it a list, is a 400 problem naming it, before the route does anything;
the declared names (aliases, dependencies' parameters, query models) pass, the `next` links
still work, and /ogc, web pages and /health keep their own handling."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import pytest
from fastapi import APIRouter, Depends, FastAPI, Query
from fastapi.testclient import TestClient
from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.app import create_app
from service.cabins.imports.models import ImportJob
from service.cabins.models import Cabin
from service.errors import PROBLEM_MEDIA_TYPE
from service.routing import ApiRoute
from service.settings import Settings
from tests.auth.fixtures import Callers
from tests.cabins.factories import LYON, cabin_body

NDJSON = {"Content-Type": "application/x-ndjson"}


def ndjson(*bodies: dict[str, Any]) -> bytes:
    return b"\n".join(orjson.dumps(b) for b in bodies) + b"\n"


def unknown_fields(response: Any) -> dict[str, str]:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = response.json()
    assert body["type"].endswith("/invalid-parameter")
    return {e["field"]: e["reason"] for e in body["errors"]}


def test_a_misspelt_dry_run_is_400_and_the_import_writes_nothing(
    client: TestClient, db: Session, callers: Callers
) -> None:
    body = ndjson(cabin_body("T-1"), cabin_body("T-2", location={**LYON}))
    response = client.post(
        "/v1/cabins/import?dryrun=true&mode=partial",
        content=body,
        headers={**NDJSON, **callers.operator},
    )

    errors = unknown_fields(response)
    assert list(errors) == ["dryrun"]
    assert "did you mean dry_run?" in errors["dryrun"]
    assert "this route takes: dry_run, mode, operator_id" in errors["dryrun"]
    assert db.scalar(select(func.count()).select_from(Cabin)) == 0
    assert db.scalar(select(func.count()).select_from(ImportJob)) == 0

    dry = client.post(
        "/v1/cabins/import?dry_run=true&mode=partial",
        content=body,
        headers={**NDJSON, **callers.operator},
    )
    assert dry.status_code == 200, dry.text
    assert dry.json()["dry_run"] is True
    assert db.scalar(select(func.count()).select_from(Cabin)) == 0


def test_page_size_on_the_cabin_list_is_400_naming_limit(
    client: TestClient, callers: Callers
) -> None:
    errors = unknown_fields(client.get("/v1/cabins?page_size=1", headers=callers.operator))
    assert list(errors) == ["page_size"]
    assert "limit" in errors["page_size"] and "after" in errors["page_size"]


def test_limit_on_the_public_window_is_400(client: TestClient) -> None:
    errors = unknown_fields(client.get("/public/cabins?bbox=2.30,48.83,2.40,48.88&limit=1"))
    assert errors == {"limit": "unknown parameter; this route takes: bbox"}


def test_each_unknown_name_is_one_error_in_the_order_given(client: TestClient) -> None:
    response = client.get("/public/cabins/nearest?lat=48.85&lon=2.35&radius_m=5&x=1&x=2&y=")
    errors = unknown_fields(response)
    assert list(errors) == ["radius_m", "x", "y"]
    assert "did you mean radius?" in errors["radius_m"]
    assert response.json()["detail"].startswith("Unknown query parameters: radius_m, x, y.")


def test_a_route_without_query_parameters_takes_none(client: TestClient, callers: Callers) -> None:
    errors = unknown_fields(client.get("/v1/rule-sets?limit=10", headers=callers.admin))
    assert errors == {"limit": "unknown parameter; this route takes no query parameters"}


def test_another_method_on_the_import_is_still_405_whatever_the_query(
    client: TestClient, callers: Callers
) -> None:
    response = client.put("/v1/cabins/import?dry_run=true&nosuch=1", headers=callers.operator)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_next_links_still_work_when_followed(client: TestClient, callers: Callers) -> None:
    for i in range(3):
        response = client.post("/v1/cabins", json=cabin_body(f"N-{i}"), headers=callers.operator)
        assert response.status_code == 201, response.text

    seen: list[str] = []
    url: str | None = "/v1/cabins?departement=75&status=draft&limit=1"
    while url:
        response = client.get(url, headers=callers.operator)
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [c["operator_reference"] for c in page["items"]]
        url = page["next"]
    assert sorted(seen) == ["N-0", "N-1", "N-2"]


def test_ogc_web_pages_and_health_keep_their_own_handling(client: TestClient) -> None:
    ogc = client.get("/ogc/collections/cabins/items?limit=1&nosuch=1")
    assert ogc.status_code == 400
    assert ogc.json()["errors"][0]["field"] == "nosuch"
    assert "queryables" in ogc.json()["errors"][0]["reason"]
    assert client.get("/health?probe=1").status_code == 200
    assert client.get("/carte?utm_source=newsletter").status_code == 200


def test_a_parameter_given_twice_is_400_on_every_api_route(
    client: TestClient, db: Session, callers: Callers
) -> None:
    """`/v1/cabins?status=draft&status=active` listed the active cabins only (the last value),
    and a repeated `dry_run` on the import was read as whichever the framework kept."""
    listed = client.get("/v1/cabins?status=draft&limit=5&status=active", headers=callers.operator)
    errors = unknown_fields(listed)
    assert errors == {
        "status": "given 2 times ('draft', 'active'): give it once (one value per parameter)"
    }
    assert "`status`" in listed.json()["detail"]

    imported = client.post(
        "/v1/cabins/import?dry_run=true&dry_run=false",
        content=ndjson(cabin_body("T-1")),
        headers={**NDJSON, **callers.operator},
    )
    assert list(unknown_fields(imported)) == ["dry_run"]
    assert db.scalar(select(func.count()).select_from(Cabin)) == 0

    window = client.get("/public/cabins?bbox=2.30,48.83,2.40,48.88&bbox=0,0,1,1")
    assert list(unknown_fields(window)) == ["bbox"]

    unknown_first = client.get("/v1/cabins?status=a&status=b&nosuch=1", headers=callers.operator)
    assert list(unknown_fields(unknown_first)) == ["nosuch"]


class Window(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    min_width: int | None = Field(default=None, alias="min-width")
    kind: str | None = None


class Tagged(BaseModel):
    kind: str | None = None
    tags: list[str] = []


class Anything(BaseModel):
    model_config = ConfigDict(extra="allow")

    known: str | None = None


def paging(page_token: Annotated[str | None, Query(alias="page-token")] = None) -> str | None:
    return page_token


def scoped(
    page: Annotated[str | None, Depends(paging)],
    scope: Annotated[str | None, Query(validation_alias=AliasChoices("scope", "perimetre"))] = None,
) -> tuple[str | None, str | None]:
    return page, scope


def _probe_app(settings: Settings) -> FastAPI:
    app = create_app(settings)
    router = APIRouter(prefix="/v1/_probe", route_class=ApiRoute)

    @router.get("/aliases")
    def aliases(
        scoped: Annotated[tuple[str | None, str | None], Depends(scoped)],
        window: Annotated[Window, Query()],
        bbox_crs: Annotated[str | None, Query(alias="bbox-crs")] = None,
    ) -> dict[str, Any]:
        page, scope = scoped
        return {"page": page, "scope": scope, "bbox_crs": bbox_crs, **window.model_dump()}

    @router.get("/lists")
    def lists(
        tagged: Annotated[Tagged, Query()],
        codes: Annotated[list[str] | None, Query(alias="code")] = None,
    ) -> dict[str, Any]:
        return {"codes": codes, "tags": tagged.tags}

    @router.get("/anything")
    def anything(model: Annotated[Anything, Query()]) -> dict[str, Any]:
        return model.model_dump()

    app.include_router(router)
    return app


def test_aliases_dependencies_and_query_models_are_declared_names(settings: Settings) -> None:
    client = TestClient(_probe_app(settings), raise_server_exceptions=False)

    response = client.get(
        "/v1/_probe/aliases?bbox-crs=EPSG:2154&page-token=p2&perimetre=84&min-width=80&kind=a"
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "page": "p2",
        "scope": "84",
        "bbox_crs": "EPSG:2154",
        "min_width": 80,
        "kind": "a",
    }
    by_name = client.get("/v1/_probe/aliases?scope=84&min_width=80")
    assert by_name.status_code == 200, by_name.text
    assert by_name.json()["min_width"] == 80  # the model populates by name as well

    errors = unknown_fields(client.get("/v1/_probe/aliases?bbox_crs=EPSG:2154&page_token=p2"))
    assert list(errors) == ["bbox_crs", "page_token"]
    assert "did you mean bbox-crs?" in errors["bbox_crs"]
    assert (
        "this route takes: bbox-crs, kind, min-width, min_width, page-token, perimetre, scope"
        in errors["page_token"]
    )

    assert client.get("/v1/_probe/anything?known=1&other=2").status_code == 200


def test_a_declared_list_parameter_may_be_repeated(settings: Settings) -> None:
    client = TestClient(_probe_app(settings), raise_server_exceptions=False)

    response = client.get("/v1/_probe/lists?code=a&code=b&tags=x&tags=y")
    assert response.status_code == 200, response.text
    assert response.json() == {"codes": ["a", "b"], "tags": ["x", "y"]}

    errors = unknown_fields(client.get("/v1/_probe/lists?kind=a&kind=b&code=a&code=b"))
    assert list(errors) == ["kind"]


def test_every_ogc_route_refuses_a_parameter_given_twice(client: TestClient) -> None:
    """Only the items refused it: `crs` twice on one feature silently used the last."""
    for url in (
        "/ogc?f=json&f=json",
        "/ogc/collections/cabins?f=json&f=html",
        "/ogc/collections/cabins/items/CAB-X?crs=a&crs=b",
        "/ogc/collections/cabins/items?limit=1&limit=2",
    ):
        response = client.get(url)
        assert response.status_code == 400, (url, response.text)
        (error,) = response.json()["errors"]
        assert error["reason"].startswith("given 2 times"), url


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/v1/cabins?reference=CAB%00X", "reference"),
        ("/public/cabins/nearest?lat=45.7%00&lon=4.8", "lat"),
        ("/ogc/collections/cabins/items?venue_name=a%00b", "venue_name"),
        ("/ogc/collections/cabins/items?filter=venue_name%3D%27a%00b%27", "filter"),
    ],
)
def test_a_nul_character_in_any_api_parameter_is_a_400_naming_it(
    client: TestClient, callers: Callers, url: str, field: str
) -> None:
    """PostgreSQL text holds no NUL: it was the database's error, a 500, wherever a route had
    no check of its own."""
    response = client.get(url, headers=callers.operator)
    assert response.status_code == 400, response.text
    assert response.json()["errors"] == [
        {"field": field, "reason": "must not contain a NUL character"}
    ]
