"""A real `alexandria serve gateway` does not let clients hold connections: one that
sends nothing, one that drips its headers, and 200 half-open ones are all closed once
ALEXANDRIA_GATEWAY_HEAD_TIMEOUT_SECONDS pass, while a client sending whole requests keeps its
connection alive between them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from serving import http_ok, wait_until_ready

from alexandria.stack import free_port

pytestmark = pytest.mark.slow

HEAD_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {
        **os.environ,
        "ALEXANDRIA_DATA_DIR": str(tmp_path_factory.mktemp("gateway")),
        "ALEXANDRIA_GATEWAY_HEAD_TIMEOUT_SECONDS": str(HEAD_TIMEOUT),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "alexandria.cli", "serve", "gateway", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_ready(proc, lambda: http_ok(f"http://127.0.0.1:{port}/health"), "gateway")
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes `sock` within `seconds` (it sends nothing first)."""
    sock.settimeout(seconds)
    try:
        return sock.recv(1024) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_a_connection_that_sends_nothing_is_closed(gateway: tuple[str, int]) -> None:
    with socket.create_connection(gateway) as sock:
        started = time.monotonic()
        assert closed_within(sock, HEAD_TIMEOUT + 3)
        assert time.monotonic() - started >= HEAD_TIMEOUT * 0.9


def test_dripped_headers_are_cut_off(gateway: tuple[str, int]) -> None:
    with socket.create_connection(gateway) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /health HTTP/1.1\r\n")
        try:
            for i in range(20):
                time.sleep(HEAD_TIMEOUT / 3)
                sock.sendall(f"X-Drip-{i}: {i}\r\n".encode())
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert closed_within(sock, HEAD_TIMEOUT + 3)
        assert time.monotonic() - started < HEAD_TIMEOUT + 3


def test_half_open_connections_are_all_closed(gateway: tuple[str, int]) -> None:
    socks = [socket.create_connection(gateway) for _ in range(200)]
    try:
        time.sleep(HEAD_TIMEOUT + 1)
        assert all(closed_within(s, 3) for s in socks)
    finally:
        for s in socks:
            s.close()


def test_whole_requests_keep_their_connection(gateway: tuple[str, int]) -> None:
    host, port = gateway
    with httpx.Client(base_url=f"http://{host}:{port}") as client:
        first = client.get("/health")
        time.sleep(HEAD_TIMEOUT / 2)
        second = client.get("/health")
    assert first.status_code == second.status_code == 200
