"""Tests that talk ASGI to the app directly, where the test client cannot: a request whose
body is cut off before its end (the client's connection closes)."""

from __future__ import annotations

import json
from typing import Any

import anyio
from fastapi import FastAPI


def cut_off(
    app: FastAPI,
    path: str,
    content: bytes,
    headers: dict[str, str],
    content_type: str = "application/json",
) -> tuple[int, dict[str, Any]]:
    """The request sent to the app with half its announced body, then the connection's end:
    the answer's status and its JSON body."""
    raw = [
        (b"host", b"testserver"),  # an HTTP/1.1 request names its host (RFC 9112 §3.2)
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(content)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in headers.items()),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": raw,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    incoming = [{"type": "http.request", "body": content[: len(content) // 2], "more_body": True}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    anyio.run(app, scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(body)
