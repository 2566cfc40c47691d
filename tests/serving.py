"""Serving for tests: an ASGI app with a real uvicorn server on a free 127.0.0.1 port, in
a thread; a gRPC servicer on a loopback port; waiting for a started process to serve."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Literal

import grpc
import httpx
import uvicorn

START_TIMEOUT_SECONDS = 30.0


@contextmanager
def serve_asgi(app: Any, *, lifespan: Literal["on", "off"] = "on") -> Iterator[str]:
    """Run `app` until the block ends; yields its base URL."""
    # An explicit IPPROTO_TCP makes asyncio set TCP_NODELAY on accepted connections; without
    # it every keep-alive request stalls ~40 ms on Nagle plus delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan=lifespan)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.005)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join()
        sock.close()


def http_ok(url: str) -> bool:
    """Whether GET `url` answers 200 now."""
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until_ready(
    process: subprocess.Popen[Any], ready: Callable[[], bool], what: str, timeout: float = 60.0
) -> None:
    """Poll `ready` until it holds; fail when `process` exits first, or after `timeout`."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            raise AssertionError(f"{what} exited with {process.returncode} before it was ready")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not ready after {timeout:.0f}s")
        time.sleep(0.2)


@asynccontextmanager
async def serve_grpc(
    register: Callable[[grpc.aio.Server], None],
) -> AsyncIterator[grpc.aio.Channel]:
    """A grpc.aio server with what `register` adds, on a loopback port, and a channel to it."""
    server = grpc.aio.server()
    register(server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield channel
    finally:
        await server.stop(None)
