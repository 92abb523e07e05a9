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
passes those through.

A strong `ETag` differs between the codings of one representation (RFC 9110 §8.8.3): the
gzipped answer of a cabin whose ETag is `"3"` says `"3-gzip"` (as Apache's mod_deflate does,
`DeflateAlterETag AddSuffix`), and that suffix is taken off the entity-tags of an incoming
`If-Match` before the route reads them, so a client writes back with the ETag it was given,
gzipped or not, and a stale one is still refused. `If-None-Match` is left as it is: only
cabins have strong ETags, and the cabin's is its version, for `If-Match`; no cabin route
answers 304, as a cabin's read also carries its compliance, which changes without the version.
A weak ETag (the public reads', which do answer 304) may be shared by both codings and is left
as it is.

Every answer whose coding depends on `Accept-Encoding` says so (`Vary: Accept-Encoding`),
the plain one too: a shared cache that stored a plain answer without it would hand it to
every client, one that stored a gzipped one would hand that to clients that cannot read it."""

from __future__ import annotations

import re

from starlette.datastructures import Headers
from starlette.middleware.gzip import GZipResponder
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.negotiation import is_json, under

MINIMUM_BYTES = 1024  # a smaller answer gains less than the header and the work cost
THREAD_MINIMUM_BYTES = 128 * 1024  # compressed off the event loop from this size
LEVEL = 6  # zlib's default: most of the gain of 9, at a third of its cost
FAST_FROM_BYTES = 1024 * 1024  # a complete answer this large is compressed at FAST_LEVEL
FAST_LEVEL = 1
ETAG_SUFFIX = b"-gzip"

# An entity-tag (RFC 9110 §8.8.3): weak or strong, its opaque part between the quotes.
_ENTITY_TAG = re.compile(rb'(W/)?"([!#-~\x80-\xff]*)"')


def accepts_gzip_in(accept_encoding: bytes) -> bool:
    """`Accept-Encoding` gives gzip, by name or as `*`, a weight above 0 (RFC 9110 §12.5.3),
    and no less than the client gives `identity` if it names it (`gzip;q=0.5, identity`
    prefers the plain answer)."""
    weights: dict[bytes, float] = {}
    for coding in accept_encoding.lower().split(b","):
        name, _, params = coding.partition(b";")
        try:
            weights[name.strip()] = float(params.strip().removeprefix(b"q=").strip() or b"1")
        except ValueError:  # a malformed weight: as if not offered
            continue
    gzip = weights.get(b"gzip", weights.get(b"*", 0.0))
    return gzip > 0 and gzip >= weights.get(b"identity", 0.0)


def gzip_etag(etag: bytes) -> bytes:
    """The ETag of the gzipped answer: a strong one suffixed, a weak one as it is."""
    tag = etag.strip()
    if tag.startswith(b'"') and tag.endswith(b'"') and len(tag) >= 2:
        return tag[:-1] + ETAG_SUFFIX + b'"'
    return etag


def identity_tags(condition: bytes) -> bytes:
    """An `If-Match` value with each gzip-suffixed strong entity-tag read as
    the tag it was made from (`"3-gzip"` → `"3"`); anything else as it is."""

    def unsuffixed(tag: re.Match[bytes]) -> bytes:
        weak, opaque = tag.group(1), tag.group(2)
        if weak or not opaque.endswith(ETAG_SUFFIX):
            return tag.group(0)
        return b'"' + opaque.removesuffix(ETAG_SUFFIX) + b'"'

    return _ENTITY_TAG.sub(unsuffixed, condition)


def is_compressible(content_type: str) -> bool:
    """JSON (`application/json` or any `+json` type: problem+json, geo+json, schema+json)
    and CSV: text that shrinks. Not the XLSX (a zip), the web app's pages and assets."""
    return is_json(content_type) or content_type.partition(";")[0].strip().lower() == "text/csv"


def _with_etag(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [(k, gzip_etag(v) if k.lower() == b"etag" else v) for k, v in headers]


def _varies_on_encoding(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(
        k.lower() == b"vary"
        and any(t.strip().lower() in (b"accept-encoding", b"*") for t in v.split(b","))
        for k, v in headers
    )


def vary_on_encoding(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The headers with `Accept-Encoding` in `Vary` (RFC 9110 §12.5.5: names and tokens read
    case-insensitively): added to the `Vary` the answer has, or as its own; the headers as
    they are when `Vary` names it already or is `*`."""
    if _varies_on_encoding(headers):
        return headers
    for i, (k, v) in enumerate(headers):
        if k.lower() == b"vary":
            return [*headers[:i], (k, v + b", Accept-Encoding"), *headers[i + 1 :]]
    return [*headers, (b"vary", b"Accept-Encoding")]


class _Responder(GZipResponder):
    """Starlette's responder (the minimum size, `Vary`, `Content-Length`, a body already
    encoded passed through, large chunks compressed in a worker thread), for the compressible
    types only, at the fast level for a large complete answer; a strong ETag of an answer it
    compresses is suffixed."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(
            app, MINIMUM_BYTES, compresslevel=LEVEL, thread_minimum_size=THREAD_MINIMUM_BYTES
        )
        self.passing = False
        self.first_body = True
        self.compressing = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_tagged(message: Message) -> None:
            if message["type"] == "http.response.start" and self.compressing:
                message["headers"] = _with_etag(
                    [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
                )
            await send(message)

        await super().__call__(scope, receive, send_tagged)

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
            self.compressing = True  # before the start message is sent, with its ETag
            if not more_body and len(body) >= FAST_FROM_BYTES:
                self.compresslevel = FAST_LEVEL
        return await super().apply_compression(body, more_body=more_body)


def _plain_varies(message: Message, path: str) -> bool:
    """Whether a plain answer would have been gzipped for a client that takes gzip: a
    compressible type, not encoded already, streamed or of the minimum size (its
    `Content-Length` says its size: the answer is not read for this); or a 304 of the API,
    which must say the `Vary` its 200 says (RFC 9110 §15.4.5) and has no type to tell."""
    if message["status"] == 304:
        return under(path)
    headers = Headers(raw=message.get("headers", []))
    if message["status"] in (204, 206) or "content-encoding" in headers:
        return False
    if not is_compressible(headers.get("content-type", "")):
        return False
    length = headers.get("content-length")
    return length is None or not length.isdigit() or int(length) >= MINIMUM_BYTES


def _with_vary(message: Message) -> None:
    message["headers"] = vary_on_encoding(
        [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
    )


class GzipMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if any(name == b"if-match" for name, _ in scope["headers"]):
            scope = {
                **scope,
                "headers": [
                    (name, identity_tags(value) if name == b"if-match" else value)
                    for name, value in scope["headers"]
                ],
            }
        path = scope["path"]

        async def send_gzip(message: Message) -> None:
            if (
                message["type"] == "http.response.start"
                and message["status"] == 304
                and under(path)
            ):
                _with_vary(message)
            await send(message)

        # Starlette's own test of the header is cruder (`gzip;q=0` would read as gzip).
        if any(
            name == b"accept-encoding" and accepts_gzip_in(value)
            for name, value in scope["headers"]
        ):
            await _Responder(self.app)(scope, receive, send_gzip)
            return

        async def send_plain(message: Message) -> None:
            if message["type"] == "http.response.start" and _plain_varies(message, path):
                _with_vary(message)
            await send(message)

        await self.app(scope, receive, send_plain)
