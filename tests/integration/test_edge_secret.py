"""ALEXANDRIA_EDGE_SHARED_SECRET on real processes: `alexandria serve parser|embedder` with the
secret refuses a parse or a training that does not carry it (UNAUTHENTICATED), serves
one that does (the coordinator's `edge_channel`), and leaves health checks and
reflection open (grpcurl)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from serving import wait_until_ready

from alexandria.stack import free_port, grpc_serving
from neo_alexandria.v1 import embedder_service_pb2
from services.common.edge_secret import edge_channel
from services.embedder.client import train_remote
from services.parser.client import fetch_graph

pytestmark = pytest.mark.slow

SECRET = "s3cret-shared-by-the-edge-0123"
GRPCURL = shutil.which("grpcurl", path=str(Path(sys.executable).parent)) or "grpcurl"


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The parser and the embedder on ports, with the secret; their addresses."""
    env = {
        **os.environ,
        "ALEXANDRIA_DATA_DIR": str(tmp_path),
        "ALEXANDRIA_EDGE_SHARED_SECRET": SECRET,
    }
    addresses = {name: f"127.0.0.1:{free_port()}" for name in ("parser", "embedder")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "alexandria.cli", "serve", name, "--port", address[10:]],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, address in addresses.items()
    ]
    try:
        for proc, (name, address) in zip(procs, addresses.items(), strict=True):
            wait_until_ready(proc, lambda a=address: grpc_serving(a), name)  # no secret needed
        yield addresses
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)


async def _parse(address: str, repo: Path, secret: str | None) -> int:
    async with edge_channel(address, secret) as channel:
        graph = await fetch_graph(channel, str(repo), timeout=60)
    return len(graph.nodes)


async def _train(address: str, secret: str | None) -> int:
    edges = (np.array([0, 1, 2]), np.array([1, 2, 0]))
    async with edge_channel(address, secret) as channel:
        result = await train_remote(
            channel,
            num_nodes=3,
            edges=edges,
            parameters=embedder_service_pb2.TrainParameters(epochs=1, seed=1),
            timeout=60,
        )
    return len(result.embeddings)


@pytest.mark.parametrize("secret", [None, "wrong-secret-of-the-same-size-0"])
def test_calls_without_the_secret_are_unauthenticated(
    serving: dict[str, str], sample_repo: Path, secret: str | None
) -> None:
    for call in (
        _parse(serving["parser"], sample_repo, secret),
        _train(serving["embedder"], secret),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            asyncio.run(call)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "x-alexandria-secret" in (refused.value.details() or "")


def test_calls_with_the_secret_are_served(serving: dict[str, str], sample_repo: Path) -> None:
    assert asyncio.run(_parse(serving["parser"], sample_repo, SECRET)) == 9
    assert asyncio.run(_train(serving["embedder"], SECRET)) == 3


def test_health_and_reflection_stay_open(serving: dict[str, str]) -> None:
    for address in serving.values():
        listed = subprocess.run(
            [GRPCURL, "-plaintext", address, "list"], capture_output=True, text=True, timeout=30
        )
        assert "grpc.health.v1.Health" in listed.stdout, listed.stderr
        check = subprocess.run(
            [GRPCURL, "-plaintext", address, "grpc.health.v1.Health/Check"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert json.loads(check.stdout) == {"status": "SERVING"}
