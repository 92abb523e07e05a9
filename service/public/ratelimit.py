"""Per-client-IP rate limit of the open endpoints: an in-process token bucket per address
(refilled continuously at the configured rate, holding at most the burst). An empty bucket is
a 429 problem+json with `Retry-After`. Each worker process keeps its own buckets; behind
several workers or instances the effective limit is per process, which is the intent of a
generous safety net, not an accounting tool."""

from __future__ import annotations

import math
import threading
import time

from starlette.types import ASGIApp, Receive, Scope, Send

from service.errors import TooManyRequests
from service.middleware import send_problem

PUBLIC_PREFIXES = ("/public", "/ogc")


class TokenBuckets:
    def __init__(self, per_minute: int, burst: int, max_clients: int = 100_000) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(max(burst, 1))
        self.max_clients = max_clients
        self.buckets: dict[str, tuple[float, float]] = {}  # ip -> (tokens, updated)
        self.lock = threading.Lock()

    def take(self, client: str, now: float | None = None) -> float:
        """0 when a token was taken, else the seconds until one is available."""
        now = time.monotonic() if now is None else now
        with self.lock:
            tokens, updated = self.buckets.get(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - updated) * self.rate)
            if tokens >= 1.0:
                self.store(client, tokens - 1.0, now)
                return 0.0
            self.store(client, tokens, now)
            return (1.0 - tokens) / self.rate

    def store(self, client: str, tokens: float, now: float) -> None:
        if len(self.buckets) >= self.max_clients and client not in self.buckets:
            # Full buckets carry no information: dropping them forgets nobody's debt.
            full = [
                ip for ip, (t, u) in self.buckets.items() if t + (now - u) * self.rate >= self.burst
            ]
            for ip in full:
                del self.buckets[ip]
            if len(self.buckets) >= self.max_clients:
                self.buckets.clear()
        self.buckets[client] = (tokens, now)


class RateLimitMiddleware:
    """Applies the buckets to `/public` and `/ogc` only; other routes have keys and quotas of
    their own."""

    def __init__(self, app: ASGIApp, per_minute: int, burst: int) -> None:
        self.app = app
        self.buckets = TokenBuckets(per_minute, burst) if per_minute > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.buckets is None
            or scope["type"] != "http"
            or not scope["path"].startswith(PUBLIC_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        wait = self.buckets.take(client[0] if client else "unknown")
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        retry_after = str(max(1, math.ceil(wait)))
        problem = TooManyRequests(
            f"Too many requests from this address; retry in {retry_after} s.",
            headers={"Retry-After": retry_after},
        )
        # The CORS headers are added around it (service.public.cors).
        await send_problem(send, problem, scope["path"])
