"""The edge services answer grpcurl (the real binary) by reflection, with no proto files."""

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


@pytest.fixture(params=["parser", "embedder"])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "alexandria.cli", "serve", request.param, "--port", str(port)],
        env={**os.environ, "ALEXANDRIA_DATA_DIR": str(tmp_path)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                grpcurl(f"127.0.0.1:{port}", "list")
                break
            except subprocess.CalledProcessError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"{request.param} did not start")
                time.sleep(0.3)
        yield request.param, port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_reflection_lists_the_service_and_health(service: tuple[str, int]) -> None:
    name, port = service
    listed = grpcurl(f"127.0.0.1:{port}", "list").split()
    expected = {"parser": "ParserService", "embedder": "EmbedderService"}[name]
    assert f"neo_alexandria.v1.{expected}" in listed
    assert "grpc.health.v1.Health" in listed


def test_health_check_answers_serving(service: tuple[str, int]) -> None:
    _, port = service
    reply = json.loads(grpcurl(f"127.0.0.1:{port}", "grpc.health.v1.Health/Check"))
    assert reply == {"status": "SERVING"}
