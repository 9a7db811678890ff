"""What bounds a request before anyone is authenticated: its body's size and how often an address or a token may
ask. Plain ASGI middleware, so a refused request costs the server neither a body read nor a password check.

* A body is at most ``max_body`` bytes and says so up front (``Content-Length``): a larger one is refused with 413
  before a byte of it is read; a body without a length (chunked) is refused with 411.
* Each client address, and each bearer token, has a bucket of ``burst`` requests refilled at ``per_second``; an
  empty bucket answers 429 with ``Retry-After``. Sign-in attempts also meet the per-user lockout (users.sign_in).
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time

MAX_BODY = 64 * 1024  # the largest form or JSON body the workbench takes (a comment is at most 4,000 characters)


class Buckets:
    """Token buckets by key, refilled at ``per_second`` up to ``burst``; thread-safe, oldest keys forgotten."""

    def __init__(self, per_second: float, burst: int, keep: int = 100_000):
        self.rate, self.burst, self.keep = per_second, burst, keep
        self._lock = threading.Lock()
        self._state: dict[str, tuple[float, float]] = {}

    def take(self, key: str) -> float:
        """0 when the request may go on, else the seconds until it may."""
        now = time.monotonic()
        with self._lock:
            level, at = self._state.get(key, (float(self.burst), now))
            level = min(self.burst, level + (now - at) * self.rate)
            if level < 1:
                self._state[key] = (level, now)
                return (1 - level) / self.rate
            if len(self._state) >= self.keep:
                self._state.pop(next(iter(self._state)))
            self._state[key] = (level - 1, now)
            return 0.0


class Guard:
    """ASGI middleware: the body limit and the rate limits, ahead of everything else."""

    def __init__(self, app, max_body: int = MAX_BODY, per_second: float = 20, burst: int = 100):
        self.app, self.max_body = app, max_body
        self.buckets = Buckets(per_second, burst)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        keys = [f"addr:{(scope.get('client') or ('?',))[0]}"]
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            keys.append("token:" + hashlib.sha256(auth[7:].strip().encode()).hexdigest())
        wait = max(self.buckets.take(k) for k in keys)
        if wait:
            return await _answer(send, 429, "too many requests: slow down", {"retry-after": str(math.ceil(wait))})
        if scope["method"] in ("POST", "PUT", "PATCH"):
            length = headers.get("content-length")
            if length is None and "chunked" in headers.get("transfer-encoding", ""):
                return await _answer(send, 411, "a body must say its length (Content-Length)")
            if length is not None and (not length.isdigit() or int(length) > self.max_body):
                return await _answer(send, 413, f"a body is at most {self.max_body:,} bytes")
        return await self.app(scope, receive, send)


async def _answer(send, status: int, detail: str, extra: dict | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in (extra or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
