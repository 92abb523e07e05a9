"""CORS for the open endpoints: any origin may GET (and HEAD) them, and preflight requests are
answered here. Nothing else is opened: the keyed API stays same-origin."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.public.ratelimit import PUBLIC_PREFIXES

# X-Request-ID: the service takes a client's own id and echoes it (service.middleware), so a
# finder app may send one and read it back to quote it; a preflight that did not allow it made
# the browser refuse the request itself.
EXPOSED = b"ETag, Content-Crs, Link, Retry-After, X-Request-ID"
ALLOWED_HEADERS = b"If-None-Match, Accept, X-Request-ID"


class PublicCorsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            await send(
                {
                    "type": "http.response.start",
                    "status": 204,
                    "headers": [
                        (b"access-control-allow-origin", b"*"),
                        (b"access-control-allow-methods", b"GET, HEAD, OPTIONS"),
                        (b"access-control-allow-headers", ALLOWED_HEADERS),
                        (b"access-control-max-age", b"86400"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"access-control-allow-origin", b"*"),
                    (b"access-control-expose-headers", EXPOSED),
                ]
            await send(message)

        await self.app(scope, receive, with_cors)
