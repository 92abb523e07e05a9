"""Serves the pages (`/` and `/carte`, `/regulateur`, `/operateur`, and the API reference at
`/docs`; HTML, left out of the OpenAPI document) and their built assets under `/static/`. The
pages talk to the public API like any other client."""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from service.errors import NotFound
from service.public.caching import not_modified
from service.routing import ApiRoute

HERE = FsPath(__file__).resolve().parent
PAGES = HERE / "pages"
STATIC = HERE / "static"

# Scripts and styles come from this origin only (bundled, no CDN); Leaflet sets inline styles.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}

router = APIRouter(route_class=ApiRoute, tags=["web pages"])


def _page(name: str) -> HTMLResponse:
    return HTMLResponse((PAGES / f"{name}.html").read_text(encoding="utf-8"), headers=PAGE_HEADERS)


@router.get("/", include_in_schema=False)
def home() -> HTMLResponse:
    return _page("carte")


@router.get("/carte", include_in_schema=False)
def finder_map() -> HTMLResponse:
    return _page("carte")


@router.get("/regulateur", include_in_schema=False)
def regulator_dashboard() -> HTMLResponse:
    return _page("regulateur")


@router.get("/operateur", include_in_schema=False)
def operator_page() -> HTMLResponse:
    return _page("operateur")


@router.get("/docs", include_in_schema=False)
def api_reference() -> HTMLResponse:
    """Swagger UI over /openapi.json, from this service's own assets: a reader's browser asks
    no other site (FastAPI's default page loads its scripts from a CDN)."""
    return _page("docs")


@router.get("/static/{name}", include_in_schema=False)
def asset(
    request: Request,
    name: Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9]+)+$")],
) -> Response:
    path = STATIC / name
    media_type = MEDIA_TYPES.get(path.suffix)
    if media_type is None or not path.is_file():
        raise NotFound(
            f"No asset {name}.",
            errors=[{"field": "name", "reason": "not a built asset of the pages"}],
        )
    headers = {"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"}
    response = FileResponse(path, media_type=media_type, headers=headers, stat_result=path.stat())
    # The ETag it sends is worth a 304 when it comes back: a page reloaded after the 5 minutes
    # of max-age otherwise downloads the same bundle again.
    etag = response.headers["etag"]
    if not_modified(request, etag):
        return Response(status_code=304, headers={**headers, "ETag": etag})
    return response
