"""gzip for every JSON answer (problem+json, GeoJSON and JSON Schema included) and the CSV
export, over 1 KiB, for a client whose `Accept-Encoding` takes gzip: a finder app on a phone
asks for GeoJSON that shrinks about fifteen times (an OGC page of 100 cabins, 158 KB, is 9
KB), a regulator's summary by commune (7 MB) about six times, and the streamed CSV and
GeoJSON exports (tens of MB) are compressed as they go. The XLSX is a zip already; the pages
and assets of the web app are left as they are.

A complete answer of 1 MiB or more (the summary by commune, the coverage) is compressed at
zlib's fastest level: level 6 cost that summary 55–107 ms a request, past its 500 ms target
(bench/RESULTS.md, seventh pass); level 1 costs about a third of that and keeps most of the
gain. Streamed answers keep level 6, as their chunks come. An answer the public cache stores
is compressed once, then (`cache.Entry.gzipped`): this middleware compresses the others, and
passes those through."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.gzip import GZipResponder
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.negotiation import is_json

MINIMUM_BYTES = 1024  # a smaller answer gains less than the header and the work cost
THREAD_MINIMUM_BYTES = 128 * 1024  # compressed off the event loop from this size
LEVEL = 6  # zlib's default: most of the gain of 9, at a third of its cost
FAST_FROM_BYTES = 1024 * 1024  # a complete answer this large is compressed at FAST_LEVEL
FAST_LEVEL = 1


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


def is_compressible(content_type: str) -> bool:
    """JSON (`application/json` or any `+json` type: problem+json, geo+json, schema+json)
    and CSV: text that shrinks. Not the XLSX (a zip), the web app's pages and assets."""
    return is_json(content_type) or content_type.partition(";")[0].strip().lower() == "text/csv"


class _Responder(GZipResponder):
    """Starlette's responder (the minimum size, `Vary`, `Content-Length`, a body already
    encoded passed through, large chunks compressed in a worker thread), for the compressible
    types only, at the fast level for a large complete answer."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(
            app, MINIMUM_BYTES, compresslevel=LEVEL, thread_minimum_size=THREAD_MINIMUM_BYTES
        )
        self.passing = False
        self.first_body = True

    async def send_with_compression(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            content_type = Headers(raw=message.get("headers", [])).get("content-type", "")
            self.passing = not is_compressible(content_type)
        if self.passing:
            await self.send(message)
        else:
            await super().send_with_compression(message)

    async def apply_compression(self, body: bytes, *, more_body: bool) -> bytes:
        if self.first_body:
            # The compressor is made on the first body compressed (Starlette's responder
            # allocates it then): its level can still be chosen here.
            self.first_body = False
            if not more_body and len(body) >= FAST_FROM_BYTES:
                self.compresslevel = FAST_LEVEL
        return await super().apply_compression(body, more_body=more_body)


class GzipMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Starlette's own test of the header is cruder (`gzip;q=0` would read as gzip).
        if scope["type"] == "http" and any(
            name == b"accept-encoding" and accepts_gzip_in(value)
            for name, value in scope["headers"]
        ):
            await _Responder(self.app)(scope, receive, send)
        else:
            await self.app(scope, receive, send)
