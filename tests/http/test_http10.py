"""The registry served by uvicorn, as `registry serve` runs it, over a raw socket, as a strict
or an old client speaks to it. uvicorn frames an answer of unknown length in chunks whatever
the request's version, so an HTTP/1.0 client would read the chunk sizes as the body; and it
lets an HTTP/1.1 request without `Host` through."""

from __future__ import annotations

import gzip
import socket
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

import anyio
import orjson
import pytest

from service import middleware
from service.app import create_app
from service.middleware import Http10LengthMiddleware
from service.settings import Settings
from tests.servers import serving

WINDOW = "/public/cabins?bbox=2.0,48.0,2.5,48.5"


@pytest.fixture(scope="module")
def port(settings: Settings) -> Iterator[int]:
    app = create_app(
        settings.model_copy(update={"public_rate_limit_per_minute": 0, "public_cache_max_bytes": 0})
    )
    with serving(app) as port:
        yield port


def exchange(port: int, request: bytes, status: str = "200") -> tuple[dict[str, str], bytes]:
    """The answer's headers and its body exactly as they came off the wire."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].split(" ")[1] == status, lines[0]
    headers = {
        k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])
    }
    return headers, body


@pytest.mark.parametrize("accept_encoding", ["identity", "gzip"])
def test_an_http_10_client_gets_the_streamed_answer_with_its_length(
    port: int, accept_encoding: str
) -> None:
    headers, body = exchange(
        port,
        f"GET {WINDOW} HTTP/1.0\r\nHost: registry\r\nAccept-Encoding: {accept_encoding}\r\n\r\n"
        .encode(),
    )  # fmt: skip
    assert "transfer-encoding" not in headers
    assert headers["content-length"] == str(len(body))
    if headers.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    assert orjson.loads(body)["type"] == "FeatureCollection"


def test_an_http_10_head_gets_the_length_get_would_send(port: int) -> None:
    got, body = exchange(port, f"GET {WINDOW} HTTP/1.0\r\nHost: registry\r\n\r\n".encode())
    head, nothing = exchange(port, f"HEAD {WINDOW} HTTP/1.0\r\nHost: registry\r\n\r\n".encode())
    assert nothing == b""
    assert head["content-length"] == got["content-length"] == str(len(body))


def test_an_http_11_client_keeps_the_stream(port: int) -> None:
    headers, _ = exchange(
        port, f"GET {WINDOW} HTTP/1.1\r\nHost: registry\r\nConnection: close\r\n\r\n".encode()
    )
    assert headers["transfer-encoding"] == "chunked"
    assert "content-length" not in headers


def test_an_http_11_request_without_host_is_400_naming_host(port: int) -> None:
    headers, body = exchange(
        port, f"GET {WINDOW} HTTP/1.1\r\nConnection: close\r\n\r\n".encode(), status="400"
    )
    assert headers["content-type"] == "application/problem+json"
    problem = orjson.loads(body)
    assert problem["errors"] == [{"field": "Host", "reason": "required in HTTP/1.1"}]
    assert problem["instance"] == "/public/cabins"


def test_an_http_10_request_needs_no_host(port: int) -> None:
    headers, _ = exchange(port, f"GET {WINDOW} HTTP/1.0\r\n\r\n".encode())
    assert headers["content-type"] == "application/geo+json"


def test_a_spool_past_its_memory_is_written_and_read_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past SPOOL_BYTES the spool is a file on disk: its writes and reads run in a worker
    thread, so that a national export to an HTTP/1.0 client does not stall the other
    requests. The bytes sent are those the app sent, with their length."""
    loop_threads: set[int] = set()
    disk_work: list[tuple[str, int, bool]] = []  # (write or read, size, on the loop's thread)

    class Recording(tempfile.SpooledTemporaryFile):  # type: ignore[type-arg]
        def write(self, data: bytes) -> int:  # type: ignore[override]
            disk_work.append(("write", len(data), threading.get_ident() in loop_threads))
            return super().write(data)

        def read(self, n: int = -1) -> bytes:  # type: ignore[override]
            data = super().read(n)
            disk_work.append(("read", len(data), threading.get_ident() in loop_threads))
            return data

    monkeypatch.setattr(middleware.tempfile, "SpooledTemporaryFile", Recording)
    monkeypatch.setattr(Http10LengthMiddleware, "SPOOL_BYTES", 2500)
    monkeypatch.setattr(Http10LengthMiddleware, "CHUNK_BYTES", 1000)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for i in range(4):
            await send({"type": "http.response.body", "body": b"x" * 1000, "more_body": i < 3})

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def run() -> None:
        loop_threads.add(threading.get_ident())
        scope = {"type": "http", "http_version": "1.0", "method": "GET", "path": "/export"}
        await Http10LengthMiddleware(app)(scope, None, send)  # type: ignore[arg-type]

    anyio.run(run)
    assert disk_work == [
        ("write", 1000, True),
        ("write", 1000, True),
        ("write", 1000, False),  # rolls the spool over to its file
        ("write", 1000, False),
        ("read", 1000, False),
        ("read", 1000, False),
        ("read", 1000, False),
        ("read", 1000, False),
    ]
    assert dict(sent[0]["headers"])[b"content-length"] == b"4000"
    assert b"".join(m["body"] for m in sent[1:]) == b"x" * 4000
