"""The FastAPI application factory: routers, error handlers, middleware."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from service.auth.routes import router as auth_router
from service.cabins.import_routes import router as cabin_imports_router
from service.cabins.routes import router as cabins_router
from service.compliance.routes import router as compliance_router
from service.compression import GzipMiddleware
from service.db import make_engine, make_sessionmaker
from service.errors import install_error_handlers
from service.health.routes import router as health_router
from service.middleware import (
    BodyLimitMiddleware,
    HeadAsGetMiddleware,
    HostRequiredMiddleware,
    Http10LengthMiddleware,
    PrivateAnswersMiddleware,
    RequestCodingMiddleware,
    RequestLogMiddleware,
)
from service.public.cache import PublicCacheMiddleware, ResponseCache
from service.public.caching import MAX_AGE_S
from service.public.cors import PublicCorsMiddleware
from service.public.ogc import OPENAPI_PATH, openapi_media_type
from service.public.ogc import router as ogc_router
from service.public.ratelimit import RateLimitMiddleware
from service.public.routes import router as public_router
from service.rules.routes import router as rules_router
from service.settings import Settings, get_settings
from service.territories.routes import router as territories_router
from service.web.routes import router as web_router

DESCRIPTION = """
National registry and compliance service for teleconsultation cabins in France.

Operators register their cabins; regulators query compliance with the siting rules;
accessibility finder apps read the open endpoints with no key. Every error is
`application/problem+json` (RFC 9457).
"""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The public cache listens from startup, so the first burst of requests finds it ready
    (its listener is a daemon thread of the process: nothing to stop at shutdown)."""
    cache: ResponseCache | None = app.state.public_cache
    if cache is not None:
        cache.start()
    yield


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(message)s")
    app = FastAPI(
        title="Cabin Registry",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by service/web from local assets, not a CDN
        redoc_url=None,
        openapi_url=None,  # served below, as the type the OGC landing page announces
    )
    app.state.settings = settings
    app.state.engine = make_engine(settings)
    app.state.sessionmaker = make_sessionmaker(app.state.engine)

    app.state.public_cache = (
        ResponseCache(
            settings.database_url,
            max_bytes=settings.public_cache_max_bytes,
            max_entry_bytes=max(1, settings.public_cache_max_bytes // 16),
            ttl_s=MAX_AGE_S,
        )
        if settings.public_cache_max_bytes > 0
        else None
    )

    install_error_handlers(app)
    app.add_middleware(PublicCacheMiddleware, cache=app.state.public_cache)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestCodingMiddleware)
    app.add_middleware(HostRequiredMiddleware)
    app.add_middleware(
        RateLimitMiddleware,
        per_minute=settings.public_rate_limit_per_minute,
        burst=settings.public_rate_limit_burst,
    )
    app.add_middleware(PublicCorsMiddleware)
    app.add_middleware(PrivateAnswersMiddleware)
    app.add_middleware(GzipMiddleware)  # inside HEAD's: HEAD's headers are GET's
    app.add_middleware(Http10LengthMiddleware)  # the length of the bytes sent, gzipped or not
    app.add_middleware(HeadAsGetMiddleware)
    app.add_middleware(RequestLogMiddleware)

    app.include_router(health_router)
    app.include_router(territories_router)
    app.include_router(public_router)
    app.include_router(ogc_router)
    app.include_router(cabin_imports_router)
    app.include_router(cabins_router)
    app.include_router(compliance_router)
    app.include_router(rules_router)
    app.include_router(auth_router)
    app.include_router(web_router)
    app.add_route(OPENAPI_PATH, _openapi_document, include_in_schema=False)
    return app


async def _openapi_document(request: Request) -> Response:
    """The contract, as `application/vnd.oai.openapi+json;version=3.1` (the `service-desc`
    link's type on `/ogc`): FastAPI's own route sends it as plain `application/json`."""
    app: FastAPI = request.app
    document = app.openapi()
    return Response(orjson.dumps(document), media_type=openapi_media_type(document["openapi"]))
