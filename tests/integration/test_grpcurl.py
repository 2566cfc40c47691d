"""The edge services answer grpcurl (the real binary) by reflection, with no proto files,
on a port (EDGE) and on a unix socket (`grpcurl -unix`, LOCAL)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from alexandria.stack import free_port

GRPCURL = shutil.which("grpcurl", path=str(Path(sys.executable).parent)) or "grpcurl"


def grpcurl(*args: str) -> str:
    return subprocess.run(
        [GRPCURL, "-plaintext", *args], capture_output=True, text=True, check=True, timeout=30
    ).stdout


@pytest.fixture(
    params=[
        (name, transport) for name in ("parser", "embedder") for transport in ("port", "socket")
    ],
    ids=lambda p: "-".join(p),
)
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """A service, and the grpcurl arguments that reach it."""
    name, transport = request.param
    if transport == "port":
        port = free_port()
        listen, target = ["--port", str(port)], [f"127.0.0.1:{port}"]
    else:
        socket = tmp_path / f"{name}.sock"
        listen, target = ["--socket", str(socket)], ["-unix", str(socket)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "alexandria.cli", "serve", name, *listen],
        env={**os.environ, "ALEXANDRIA_DATA_DIR": str(tmp_path)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                grpcurl(*target, "list")
                break
            except subprocess.CalledProcessError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"{name} did not start")
                time.sleep(0.3)
        yield name, target
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_reflection_lists_the_service_and_health(service: tuple[str, list[str]]) -> None:
    name, target = service
    listed = grpcurl(*target, "list").split()
    expected = {"parser": "ParserService", "embedder": "EmbedderService"}[name]
    assert f"neo_alexandria.v1.{expected}" in listed
    assert "grpc.health.v1.Health" in listed


def test_health_check_answers_serving(service: tuple[str, list[str]]) -> None:
    _, target = service
    reply = json.loads(grpcurl(*target, "grpc.health.v1.Health/Check"))
    assert reply == {"status": "SERVING"}
