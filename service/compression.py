"""gzip for the open endpoints (`/public`, `/ogc`), where a finder app on a phone asks for
GeoJSON that shrinks about fifteen times (an OGC page of 100 cabins, 158 KB, is 9 KB), and
for the regulators' CSV and GeoJSON exports (tens of MB, streamed: compressed as they go). Not
the other regulator answers: the 7 MB summary by commune would pay the compression on every
request, past its latency target (bench/RESULTS.md). An answer the public cache stores is
compressed once, then (`cache.Entry.gzipped`); this middleware compresses the others, and
passes those through."""

from __future__ import annotations

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from service.public.ratelimit import PUBLIC_PREFIXES

COMPRESSED_PATHS = ("/v1/compliance/export.csv", "/v1/compliance/export.geojson")
MINIMUM_BYTES = 1024  # a smaller answer gains less than the header and the work cost
THREAD_MINIMUM_BYTES = 128 * 1024  # compressed off the event loop from this size
LEVEL = 6  # zlib's default: most of the gain of 9, at a third of its cost


def accepts_gzip_in(accept_encoding: bytes) -> bool:
    """`Accept-Encoding` gives gzip, by name or as `*`, a weight above 0 (RFC 9110 §12.5.3)."""
    weights: dict[bytes, float] = {}
    for coding in accept_encoding.lower().split(b","):
        name, _, params = coding.partition(b";")
        try:
            weights[name.strip()] = float(params.strip().removeprefix(b"q=").strip() or b"1")
        except ValueError:  # a malformed weight: as if not offered
            continue
    return weights.get(b"gzip", weights.get(b"*", 0.0)) > 0


class PublicGzipMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(
            app,
            minimum_size=MINIMUM_BYTES,
            compresslevel=LEVEL,
            thread_minimum_size=THREAD_MINIMUM_BYTES,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        compressed = path in COMPRESSED_PATHS or any(
            path == prefix or path.startswith(prefix + "/") for prefix in PUBLIC_PREFIXES
        )
        if compressed and (
            any(
                name == b"accept-encoding" and accepts_gzip_in(value)
                for name, value in scope["headers"]
            )
        ):
            await self.gzip(scope, receive, send)  # its own test of the header is cruder
        else:
            await self.app(scope, receive, send)
