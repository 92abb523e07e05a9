"""ASGI middleware: the request id and the one-line request log, HEAD answered as GET, the
body-size limit, refusals before any route (an HTTP/1.1 request without `Host`, a body in a
content coding the service does not read), no shared cache keeping an answer given to a key,
and an answer an HTTP/1.0 client can read."""

from __future__ import annotations

import logging
import re
import tempfile
import time
import uuid

import anyio.to_thread
import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import (
    BODY_BYTES_RECEIVED,
    BadRequest,
    PayloadTooLarge,
    Problem,
    UnsupportedMediaType,
)

log = logging.getLogger("service.request")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestLogMiddleware:
    """Gives each request an id (the client's `X-Request-ID` when it is sane), echoes it, and
    writes one JSON line per request: method, path, status, duration, request id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if log.isEnabledFor(logging.INFO):
                self._log(scope, status, started, request_id)

    @staticmethod
    def _log(scope: Scope, status: int, started: float, request_id: str) -> None:
        log.info(
            orjson.dumps(
                {
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "request_id": request_id,
                }
            ).decode()
        )


class HeadAsGetMiddleware:
    """HEAD is GET without the body (RFC 9110 §9.3.2): every GET route answers it with the
    status and headers GET would send, Content-Length included, so a monitor or a link checker
    gets a 200 where it got a 405. The routes and the contract know GET only."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] != "http.response.body":
                await send(message)
            elif not message.get("more_body", False):
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        await self.app({**scope, "method": "GET"}, receive, headers_only)


class PrivateAnswersMiddleware:
    """An answer to a request that carries a key (`Authorization`) is for that key's holder
    alone: `Cache-Control: no-store`, so that no proxy or CDN between the registry and its
    caller keeps a cabin, a client list or a new key on disk or hands it to someone else (RFC
    9111 §5.2.2.5), unless the route said how it may be cached (the public reads, which do not
    depend on the key, say `public`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not any(
            name == b"authorization" for name, _ in scope["headers"]
        ):
            await self.app(scope, receive, send)
            return

        async def send_private(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
                if not any(k.lower() == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_private)


class Http10LengthMiddleware:
    """An answer of unknown length (a streamed export, the public GeoJSON) to an HTTP/1.0
    request is sent with its `Content-Length`. uvicorn frames such an answer with chunked
    transfer coding whatever the request's version, though an HTTP/1.0 client does not know
    it (RFC 9112 §6.1: a server must not send Transfer-Encoding to one) and reads the chunk
    sizes as part of the body: an old monitor, `ab`, or a proxy that speaks HTTP/1.0 to its
    upstream would get a corrupt CSV or GeoJSON. The body is gathered (in memory up to
    `SPOOL_BYTES`, then in a temporary file) and sent once complete; HTTP/1.1 clients keep
    the stream. Past `SPOOL_BYTES` (a national CSV export) the writes and reads are disk work,
    done in a worker thread so that the event loop goes on serving the other requests."""

    SPOOL_BYTES = 8 * 1024 * 1024
    CHUNK_BYTES = 1024 * 1024

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("http_version") != "1.0":
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        with tempfile.SpooledTemporaryFile(max_size=self.SPOOL_BYTES) as spool:

            async def send_with_length(message: Message) -> None:
                nonlocal held
                if message["type"] == "http.response.start":
                    headers = message.get("headers", [])
                    if message["status"] in (204, 304) or any(
                        bytes(k).lower() == b"content-length" for k, _ in headers
                    ):
                        await send(message)
                    else:
                        held = message
                    return
                if held is None or message["type"] != "http.response.body":
                    await send(message)
                    return
                body = message.get("body", b"")
                on_disk = spool.tell() + len(body) > self.SPOOL_BYTES
                if on_disk:  # this write rolls the spool over to its file, or adds to it
                    await anyio.to_thread.run_sync(spool.write, body)
                else:
                    spool.write(body)
                if message.get("more_body", False):
                    return
                size = spool.tell()
                headers = [(bytes(k), bytes(v)) for k, v in held.get("headers", [])]
                headers.append((b"content-length", str(size).encode()))
                await send({**held, "headers": headers})
                held = None
                spool.seek(0)
                sent = 0
                while True:
                    if on_disk:
                        chunk = await anyio.to_thread.run_sync(spool.read, self.CHUNK_BYTES)
                    else:
                        chunk = spool.read(self.CHUNK_BYTES)
                    sent += len(chunk)
                    await send(
                        {"type": "http.response.body", "body": chunk, "more_body": sent < size}
                    )
                    if sent >= size:
                        return

            await self.app(scope, receive, send_with_length)


class HostRequiredMiddleware:
    """An HTTP/1.1 request without a `Host` header is a 400 problem naming `Host` (RFC 9112
    §3.2: a server must refuse it). uvicorn lets it through, and the registry builds its links
    (`next`, `Location`, OGC `links`) from `Host`: they would name the server's own address."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("http_version", "1.1") == "1.0"
            or any(name == b"host" for name, _ in scope["headers"])
        ):
            await self.app(scope, receive, send)
            return
        problem = BadRequest(
            "An HTTP/1.1 request must name the host it is for in a Host header.",
            errors=[{"field": "Host", "reason": "required in HTTP/1.1"}],
        )
        await send_problem(send, problem, scope["path"])


def announces_body(scope: Scope) -> bool:
    """Whether the request says a body follows: a `Content-Length` other than 0, or a
    `Transfer-Encoding` (RFC 9112 §6.3: without either, an HTTP/1.1 request has none)."""
    headers = dict(scope["headers"])
    return headers.get(b"content-length", b"0").strip() not in (b"0", b"") or (
        b"transfer-encoding" in headers
    )


async def send_problem(send: Send, problem: Problem, instance: str) -> None:
    """A problem+json answer sent by a middleware, before any route, with the problem's own
    headers (Retry-After, …) as `problem_response` sends them."""
    body = orjson.dumps(problem.body(instance))
    await send(
        {
            "type": "http.response.start",
            "status": problem.status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                *(
                    (name.lower().encode("latin-1"), value.encode("latin-1"))
                    for name, value in problem.headers.items()
                ),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestCodingMiddleware:
    """A request body sent with a `Content-Encoding` (gzip, br…) is refused with a 415 naming
    `Content-Encoding` before anything reads it (RFC 9110 §8.4, §15.5.16), with `Accept-Encoding:
    identity` to say what the service takes: it reads bodies as they come, so a gzipped cabin
    was a 400 "could not be read" and a gzipped CSV would be parsed as bytes of nonsense."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not announces_body(scope):  # every GET: no body
            await self.app(scope, receive, send)
            return
        codings = [
            coding.strip().lower()
            for name, value in scope["headers"]
            if name == b"content-encoding"
            for coding in value.decode("latin-1").split(",")
            if coding.strip()
        ]
        if all(coding == "identity" for coding in codings):
            await self.app(scope, receive, send)
            return
        given = ", ".join(codings)
        problem = UnsupportedMediaType(
            f"The request body is sent with Content-Encoding: {given}; the registry reads"
            " request bodies as they are (no content coding). Send it uncompressed.",
            errors=[{"field": "Content-Encoding", "reason": f"{given} is not read; send none"}],
            headers={"Accept-Encoding": "identity"},
        )
        await send_problem(send, problem, scope["path"])


class BodyLimitMiddleware:
    """Refuses a body larger than the limit with a 413 problem naming `body`, "over N bytes",
    whether the client announced its length (refused before anything reads it) or streams it
    in chunks (refused when the count passes the limit: the route reading it sees the
    connection end and its answer is dropped, so nothing is written). The refusal says
    `Connection: close`: the rest of the body is not read. The count is kept in the request's
    state (`errors.BODY_BYTES_RECEIVED`) for the refusal of a body cut off."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A request without a body (every GET, the hot /public/cabins/nearest among them) has
        # nothing to count: it goes straight through.
        if scope["type"] != "http" or not announces_body(scope):
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self._refuse(scope, send)
            return
        received = 0
        refused = False
        # The count is the request's too: a body cut off is refused saying how much came.
        state = scope.setdefault("state", {})

        async def counting_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                state[BODY_BYTES_RECEIVED] = received
                if received > self.max_bytes:
                    refused = True
                    await self._refuse(scope, send)
                    # The reader stops as if the client had gone (ClientDisconnect): the
                    # route writes nothing, and its own answer is not sent.
                    return {"type": "http.disconnect"}
            return message

        # Only the app's messages pass here. Starlette's outermost error middleware answers an
        # unhandled error with its own `send`, but only if no answer has started, and it learns
        # that from the messages crossing it: the refusal is sent whole, start and last body
        # (which lets go a start that gzip held), before the app reads on, so a failure after it
        # is logged and starts no second answer (tests/http/test_body_limit.py).
        async def send_unless_refused(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, counting_receive, send_unless_refused)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        problem = PayloadTooLarge(
            f"The request body exceeds the limit of {self.max_bytes} bytes.",
            errors=[{"field": "body", "reason": f"over {self.max_bytes} bytes"}],
            headers={"Connection": "close"},
        )
        await send_problem(send, problem, scope["path"])
