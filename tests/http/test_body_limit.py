"""The body limit seen from the app it wraps and from the server: a request without a body
goes straight through it, untouched, and a body refused as it streams gets that one answer."""

from __future__ import annotations

from typing import Any

import anyio
import orjson
import pytest
from fastapi import APIRouter, Request
from starlette.requests import ClientDisconnect

from service.app import create_app
from service.middleware import BodyLimitMiddleware
from service.routing import ApiRoute
from service.settings import Settings


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


def test_an_unhandled_error_after_a_streamed_413_starts_no_second_answer(
    settings: Settings,
) -> None:
    """The refusal passes through every middleware outside the limit, Starlette's outermost
    error middleware among them, which then knows an answer has started: a route failing once
    its body was cut by the limit is logged, and the client reads the 413 alone."""
    app = create_app(settings.model_copy(update={"max_body_bytes": 1024}))
    router = APIRouter(route_class=ApiRoute)

    @router.post("/_probe/fails")
    async def fails(request: Request) -> None:
        try:
            await request.body()
        except ClientDisconnect:
            raise RuntimeError("a failure once the limit cut the body") from None

    app.include_router(router)
    scope = {
        **_scope("POST", [(b"transfer-encoding", b"chunked")]),
        "path": "/_probe/fails",
        "raw_path": b"/_probe/fails",
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "asgi": {"version": "3.0"},
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    chunks = [{"type": "http.request", "body": b"x" * 512, "more_body": True}] * 4
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with pytest.raises(RuntimeError, match="cut the body"):
        anyio.run(app, scope, receive, send)
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert [m["status"] for m in starts] == [413]
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert orjson.loads(body)["errors"] == [{"field": "body", "reason": "over 1024 bytes"}]
