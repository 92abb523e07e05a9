"""A per-process cache of rendered public responses (`/public`, `/ogc`), answered as raw ASGI
messages before FastAPI's routing, dependencies and the database, and emptied whenever the
public data changes.

Invalidation: migration 0007 fires `NOTIFY public_data` from statement-level triggers on
`cabin` and `cabin_compliance` (the only tables a public response reads); NOTIFY is delivered
at commit. Each worker process keeps one connection to the primary in `LISTEN public_data` (a
daemon thread) and empties its cache on every notification. A response is stored only when

- it was built by the real read session (`service.reads.get_read_session` marks the request:
  committed data only; the tests' session, bound to a test's transaction, never marks), and
- the listener was connected before the request started and no notification arrived while it
  ran (a generation number taken at the start and compared at the end), so a response computed
  from data older than a commit is never stored after that commit's notification.

While the listener is down (not yet connected, or the connection lost) nothing is stored or
served; it reconnects and starts from an empty cache. Entries also expire after the
`Cache-Control` max-age, which bounds a replica's lag when `DATABASE_READ_URL` is a standby
(a standby cannot LISTEN; the primary notifies before the standby has replayed the write).

Only complete 200 responses to GET are stored; `If-None-Match` on a stored entry gives the
same 304 as the handlers (`service.public.caching`). The key is everything a handler reads
from the request: scheme, Host, root path, path and query string. An entry over
`compression.MINIMUM_BYTES` is also kept gzipped, compressed once when stored: a client that
accepts gzip is served that, and `compression.GzipMiddleware` passes it through."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gzip
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import psycopg
from sqlalchemy.engine import make_url
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import negotiation
from service.compression import (
    LEVEL,
    MINIMUM_BYTES,
    THREAD_MINIMUM_BYTES,
    accepts_gzip_in,
    vary_on_encoding,
)
from service.public.ratelimit import PUBLIC_PREFIXES

log = logging.getLogger("service.public.cache")

CHANNEL = "public_data"
MARK = "public_cache"  # key in the ASGI scope's state set by the real read session


@dataclass(frozen=True)
class Entry:
    headers: list[tuple[bytes, bytes]]  # the 200's headers
    not_modified_headers: list[tuple[bytes, bytes]]  # the same without the body's
    etag: bytes | None
    body: bytes
    expires: float
    gzipped: bytes | None = None  # the body compressed, for the clients that accept gzip
    gzip_headers: list[tuple[bytes, bytes]] | None = None

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzipped or b"")


class ResponseCache:
    """The entries and the listener that empties them. Thread-safe: the listener thread
    invalidates while the event loop reads and stores."""

    def __init__(self, listen_url: str, max_bytes: int, max_entry_bytes: int, ttl_s: float) -> None:
        self.conninfo = (
            make_url(listen_url).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes
        self.ttl_s = ttl_s
        self.entries: dict[tuple[Any, ...], Entry] = {}
        self.size = 0
        self.generation = 0
        self.ready = False
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.connection: psycopg.Connection[Any] | None = None
        self.hits = 0
        self.stores = 0
        self.invalidations = 0

    # -- invalidation ------------------------------------------------------------------------

    def invalidate(self, ready: bool | None = None) -> None:
        with self.lock:
            self.generation += 1
            self.entries.clear()
            self.size = 0
            self.invalidations += 1
            if ready is not None:
                self.ready = ready

    def start(self) -> None:
        """Starts the listener once (at the app's startup; lazily on the first response worth
        storing when the app runs without its lifespan). It lives as long as the process, or
        until `stop`."""
        if self.thread is not None:
            return
        with self.lock:
            if self.thread is not None:
                return
            self.thread = threading.Thread(
                target=self._listen, name="public-cache-listener", daemon=True
            )
            self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.invalidate(ready=False)
        connection = self.connection
        if connection is not None:
            with contextlib.suppress(Exception):  # closing anyway
                connection.cancel_safe()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def _listen(self) -> None:
        failures = 0  # in a row: the retry waits 1, 2, 4… up to 30 s, logged once per outage
        while not self.stopping.is_set():
            try:
                with psycopg.connect(
                    self.conninfo,
                    autocommit=True,
                    connect_timeout=5,
                    application_name="cabin-registry-cache",
                ) as connection:
                    self.connection = connection
                    connection.execute(f"LISTEN {CHANNEL}")
                    self.invalidate(ready=True)  # anything stored before is of unknown age
                    if failures:
                        log.warning("public cache listener: connected again")
                    failures = 0
                    while not self.stopping.is_set():
                        for _ in connection.notifies(timeout=1.0):
                            self.invalidate()
            except Exception as exc:  # the cache is off until reconnected
                self.invalidate(ready=False)
                if not self.stopping.is_set():
                    delay = min(30.0, 2.0**failures)
                    if not failures:
                        log.warning("public cache listener: %s; the cache is off", exc)
                    failures += 1
                    self.stopping.wait(delay)
            finally:
                self.connection = None
        self.invalidate(ready=False)

    # -- entries -----------------------------------------------------------------------------

    def get(self, key: tuple[Any, ...], now: float) -> Entry | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        if entry.expires <= now:
            with self.lock:
                if self.entries.get(key) is entry:
                    del self.entries[key]
                    self.size -= entry.size
            return None
        return entry

    def put(self, key: tuple[Any, ...], generation: int, entry: Entry) -> bool:
        if entry.size > self.max_entry_bytes:
            return False
        with self.lock:
            if not self.ready or generation != self.generation:
                return False  # a change was committed while the response was built
            old = self.entries.pop(key, None)
            if old is not None:
                self.size -= old.size
            while self.entries and self.size + entry.size > self.max_bytes:
                oldest = next(iter(self.entries))
                self.size -= self.entries.pop(oldest).size
            self.entries[key] = entry
            self.size += entry.size
            self.stores += 1
            return True


_BODY_HEADERS = (b"content-length", b"content-type")


async def _gzip(body: bytes) -> bytes:
    """The body gzipped; a large one in a worker thread, so that the event loop goes on
    serving the other requests (Starlette's GZipMiddleware does the same past 128 KiB)."""
    if len(body) < THREAD_MINIMUM_BYTES:
        return gzip.compress(body, compresslevel=LEVEL, mtime=0)
    return await anyio.to_thread.run_sync(
        functools.partial(gzip.compress, body, compresslevel=LEVEL, mtime=0)
    )


def _takes(accept: bytes | None, entry: Entry) -> bool:
    """Whether the client's `Accept` takes the stored answer's type (`service.negotiation`)."""
    if accept is None:
        return True
    content_type = next((v for k, v in entry.headers if k == b"content-type"), b"")
    return negotiation.takes(accept.decode("latin-1"), content_type.decode("latin-1"))


def _matches(if_none_match: bytes, etag: bytes) -> bool:
    """Weak comparison, as `service.public.caching.not_modified`."""
    header = if_none_match.strip()
    if header == b"*":
        return True
    wanted = {tag.strip().removeprefix(b"W/") for tag in header.split(b",")}
    return etag.removeprefix(b"W/") in wanted


class PublicCacheMiddleware:
    """Serves stored entries; on a miss, runs the app and stores what it answered. Concurrent
    misses of one key wait for the first one's response (single flight) instead of each
    running the same query: after a change or an expiry, a burst of identical requests costs
    one query per worker."""

    def __init__(self, app: ASGIApp, cache: ResponseCache | None) -> None:
        self.app = app
        self.cache = cache
        # key -> (generation, the first request's future entry: None when it stored nothing)
        self.inflight: dict[tuple[Any, ...], tuple[int, asyncio.Future[Entry | None]]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cache = self.cache
        if (
            cache is None
            or scope["type"] != "http"
            or scope["method"] != "GET"
            or not scope["path"].startswith(PUBLIC_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        host = b""
        if_none_match = None
        accepts_gzip = False
        accept: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"host" and not host:
                host = value
            elif name == b"if-none-match" and if_none_match is None:
                if_none_match = value
            elif name == b"accept-encoding":
                accepts_gzip = accepts_gzip or accepts_gzip_in(value)
            elif name == b"accept" and accept is None:
                accept = value
        key = (scope["scheme"], host, scope.get("root_path", ""), scope["path"],
               scope["query_string"])  # fmt: skip
        now = time.monotonic()
        ready = cache.ready
        if ready:
            entry = cache.get(key, now)
            if entry is None:
                flight = self.inflight.get(key)
                if flight is not None and flight[0] == cache.generation:
                    entry = await asyncio.shield(flight[1])
            if entry is not None and not _takes(accept, entry):
                entry = None  # the route answers it: a 406, or its format named by `f=`
            if entry is not None:
                cache.hits += 1
                await self._serve(entry, if_none_match, accepts_gzip, send)
                return

        generation = cache.generation
        future: asyncio.Future[Entry | None] | None = None
        if ready:
            future = asyncio.get_running_loop().create_future()
            self.inflight[key] = (generation, future)
        stored: Entry | None = None
        start: Message | None = None
        chunks: list[bytes] = []
        size = 0
        storing = True

        async def capture(message: Message) -> None:
            nonlocal start, size, storing, stored
            if storing:
                if message["type"] == "http.response.start":
                    # a copy: the outer middleware add their headers to the message itself
                    start = {**message, "headers": list(message.get("headers", []))}
                    storing = message["status"] == 200
                elif message["type"] == "http.response.body":
                    body = message.get("body", b"")
                    size += len(body)
                    if size > cache.max_entry_bytes:
                        storing = False
                        chunks.clear()
                    else:
                        chunks.append(body)
                    if storing and not message.get("more_body", False):
                        stored = await self._store(
                            scope, key, generation, ready, start, b"".join(chunks), now
                        )
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            if future is not None:
                if self.inflight.get(key, (0, None))[1] is future:
                    del self.inflight[key]
                future.set_result(stored)

    @staticmethod
    async def _serve(
        entry: Entry, if_none_match: bytes | None, accepts_gzip: bool, send: Send
    ) -> None:
        if if_none_match is not None and entry.etag and _matches(if_none_match, entry.etag):
            await send(
                {
                    "type": "http.response.start",
                    "status": 304,
                    "headers": list(entry.not_modified_headers),
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        if accepts_gzip and entry.gzipped is not None and entry.gzip_headers is not None:
            headers, body = entry.gzip_headers, entry.gzipped
        else:
            headers, body = entry.headers, entry.body
        await send({"type": "http.response.start", "status": 200, "headers": list(headers)})
        await send({"type": "http.response.body", "body": body})

    async def _store(
        self,
        scope: Scope,
        key: tuple[Any, ...],
        generation: int,
        ready: bool,
        start: Message | None,
        body: bytes,
        now: float,
    ) -> Entry | None:
        cache = self.cache
        if cache is None or start is None or not scope.get("state", {}).get(MARK):
            return None
        if not ready:
            cache.start()
            return None
        headers = [(bytes(k).lower(), bytes(v)) for k, v in start.get("headers", [])]
        etag = next((v for k, v in headers if k == b"etag"), None)
        gzipped = gzip_headers = None
        if len(body) >= MINIMUM_BYTES and not any(k == b"content-encoding" for k, _ in headers):
            gzipped = await _gzip(body)
            headers = vary_on_encoding(headers)  # the entry answers in two encodings
            gzip_headers = [(k, v) for k, v in headers if k != b"content-length"] + [
                (b"content-length", str(len(gzipped)).encode()),
                (b"content-encoding", b"gzip"),
            ]
        entry = Entry(
            headers=headers,
            not_modified_headers=[(k, v) for k, v in headers if k not in _BODY_HEADERS],
            etag=etag,
            body=body,
            expires=now + cache.ttl_s,
            gzipped=gzipped,
            gzip_headers=gzip_headers,
        )
        return entry if cache.put(key, generation, entry) else None
