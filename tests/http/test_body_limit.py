"""The body limit seen from the app it wraps: a request without a body goes straight through
it, untouched."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from service.middleware import BodyLimitMiddleware


def _scope(method: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "path": "/public/cabins/nearest",
        "headers": [(b"host", b"testserver"), *headers],
    }


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: dict[str, Any]) -> None:
    pass


def _seen_by_the_app(scope: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.extend((receive, send))

    anyio.run(BodyLimitMiddleware(app, max_bytes=1024), scope, _receive, _send)
    return seen[0], seen[1], scope


@pytest.mark.parametrize("headers", [[], [(b"content-length", b"0")]])
def test_a_request_without_a_body_goes_straight_through_the_limit(
    headers: list[tuple[bytes, bytes]],
) -> None:
    """A GET on /public/cabins/nearest had its receive and send wrapped and its state set,
    though there is nothing to count."""
    receive, send, scope = _seen_by_the_app(_scope("GET", headers))
    assert receive is _receive and send is _send
    assert "state" not in scope


@pytest.mark.parametrize(
    "headers", [[(b"content-length", b"10")], [(b"transfer-encoding", b"chunked")]]
)
def test_a_request_with_a_body_is_counted(headers: list[tuple[bytes, bytes]]) -> None:
    receive, send, _ = _seen_by_the_app(_scope("POST", headers))
    assert receive is not _receive and send is not _send
