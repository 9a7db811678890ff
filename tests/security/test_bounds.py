"""Requests are bounded before they are authenticated, on a real `pssync serve`. Before the controls: an anonymous
300 MiB JSON body was refused with 401 only after 17 s, and the server grew from 310 MiB to 1,510 MiB."""

from __future__ import annotations

import os
import socket
import time

import pytest

from tests.security.conftest import Served

BIG = 300 * 1024 * 1024


@pytest.fixture
def served(tmp_path):
    env = {**os.environ, "PSSYNC_WEB_SECRET": "bounds-test-secret", "PYTHONPATH": os.getcwd()}
    for name in ("PSSYNC_WORKFLOW_URL", "PSSYNC_OUTPUT_DIR"):
        env.pop(name, None)
    server = Served(tmp_path / "wh.duckdb", env)
    yield server
    server.close()


def _send(port: int, head: str, body: bytes = b"", timeout: float = 10) -> tuple[str, float]:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head.encode() + body)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.decode("latin-1"), time.monotonic() - started


def test_a_huge_anonymous_body_is_refused_at_once_without_reading_it(served):
    before = served.rss_mib()
    head = (
        "POST /api/v1/exception/actions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {BIG}\r\n\r\n"
    )
    answer, took = _send(served.port, head, b"{" + b" " * (1024 * 1024))  # the first MiB of 300, then nothing
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert took < 2, f"refused after {took:.1f} s"
    assert served.rss_mib() - before < 50, "the body was not buffered"


def test_a_body_that_does_not_say_its_length_is_refused(served):
    head = "POST /signin HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
    answer, _ = _send(served.port, head, b"5\r\nhello\r\n")
    assert answer.startswith("HTTP/1.1 411"), answer[:200]


def test_a_flood_from_one_address_gets_429_with_retry_after(served):
    import http.client

    statuses = []
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    retry = None
    for _ in range(300):
        conn.request("GET", "/api/v1/me", headers={"Authorization": "Bearer not-a-token"})
        r = conn.getresponse()
        r.read()
        statuses.append(r.status)
        if r.status == 429:
            retry = r.getheader("Retry-After")
            break
    conn.close()
    assert statuses[0] == 401 and statuses[-1] == 429, statuses[-3:]
    assert retry is not None and int(retry) >= 1
