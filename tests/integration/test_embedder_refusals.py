"""The embedder's budgets on a real `alexandria serve embedder` process: a request whose
walk steps or estimated memory pass a budget, or whose edges stream past the cap, is
refused RESOURCE_EXHAUSTED naming the budget, and the process's peak RSS stays under
1 GB (before the budgets, the first of these took 4.1 GB in 15 s)."""

from __future__ import annotations

import asyncio
import os
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
from services.embedder.client import train_remote

pytestmark = pytest.mark.slow

MAX_EDGES = 1_000_000


@pytest.fixture(scope="module")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """The embedder's address and pid; defaults but for the edge cap."""
    address = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "ALEXANDRIA_DATA_DIR": str(tmp_path_factory.mktemp("embedder")),
        "ALEXANDRIA_EMBEDDER_MAX_EDGES": str(MAX_EDGES),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "alexandria.cli", "serve", "embedder", "--port", address[10:]],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_ready(proc, lambda: grpc_serving(address), "embedder")
        yield address, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def peak_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def refusal(address: str, num_nodes: int, edges: int, **parameters: int) -> grpc.aio.AioRpcError:
    async def train() -> None:
        rng = np.random.default_rng(0)
        pairs = (rng.integers(num_nodes, size=edges), rng.integers(num_nodes, size=edges))
        async with grpc.aio.insecure_channel(address) as channel:
            await train_remote(
                channel,
                num_nodes=num_nodes,
                edges=pairs,
                parameters=embedder_service_pb2.TrainParameters(**parameters),
                timeout=120,
            )

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        asyncio.run(train())
    return refused.value


@pytest.mark.parametrize(
    ("num_nodes", "edges", "parameters", "budget"),
    [
        (10, 20, {"walk_length": 1000, "walks_per_node": 1000, "epochs": 1000}, "WALK_STEPS"),
        (10, 20, {"walk_length": 1000, "walks_per_node": 1000, "epochs": 1}, "MEMORY_BYTES"),
        (1000, 3 * MAX_EDGES, {"epochs": 1}, "EDGES"),
    ],
    ids=["walk-steps", "memory", "edge-stream"],
)
def test_an_over_budget_request_is_refused_before_it_costs_memory(
    embedder: tuple[str, int], num_nodes: int, edges: int, parameters: dict[str, int], budget: str
) -> None:
    address, pid = embedder
    refused = refusal(address, num_nodes, edges, **parameters)
    assert refused.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, refused.details()
    assert f"EMBEDDER_MAX_{budget}" in (refused.details() or "")
    assert peak_rss_bytes(pid) < 1 << 30
    assert grpc_serving(address)  # and it goes on serving
