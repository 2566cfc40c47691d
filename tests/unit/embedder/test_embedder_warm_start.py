"""Warm start: training from initial vectors finishes, is deterministic for a seed, and
the vectors cross the wire; bad initial vectors are refused."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import grpc
import numpy as np
import pytest
import torch
from serving import serve_grpc

from neo_alexandria.v1 import embedder_service_pb2 as pb
from neo_alexandria.v1 import embedder_service_pb2_grpc as pb_grpc
from services.embedder.client import Initial, train_remote
from services.embedder.node2vec import Node2Vec
from services.embedder.server import EmbedderServicer
from services.embedder.train import InitialVectors, TrainConfig, train_embeddings

FAST = TrainConfig(walk_length=8, context_size=4, walks_per_node=2, epochs=2, seed=7)
NODES = 12
EDGES = [(i, (i + 1) % NODES) for i in range(NODES)] + [(0, 6), (3, 9)]


def graph() -> torch.Tensor:
    return torch.tensor(EDGES).t()


def previous() -> InitialVectors:
    """Vectors of a cold run for nodes 0..9 (10 and 11 are new)."""
    cold = train_embeddings(graph(), NODES, FAST, device="cpu").embeddings
    return InitialVectors(torch.arange(10), cold[:10].clone())


def test_the_model_starts_from_the_initial_vectors() -> None:
    model = Node2Vec(graph(), embedding_dim=4, walk_length=4, context_size=3, num_nodes=NODES)
    start = torch.randn(2, 4)
    model.start_from(torch.tensor([2, 5]), start)
    assert torch.allclose(model()[torch.tensor([2, 5])], start)  # u = v = start / 2


def test_warm_and_cold_training_finish_and_are_deterministic_for_a_seed() -> None:
    initial = previous()
    cold = [train_embeddings(graph(), NODES, FAST, device="cpu") for _ in range(2)]
    warm = [train_embeddings(graph(), NODES, FAST, device="cpu", initial=initial) for _ in range(2)]
    other = train_embeddings(graph(), NODES, replace(FAST, seed=8), device="cpu", initial=initial)
    for first, again in (cold, warm):
        assert first.embeddings.shape == (NODES, 64)
        assert torch.isfinite(first.embeddings).all()
        assert torch.equal(first.embeddings, again.embeddings)
        assert first.final_loss == again.final_loss
    assert not torch.equal(warm[0].embeddings, cold[0].embeddings)
    assert not torch.equal(warm[0].embeddings, other.embeddings)


def test_a_warm_run_stays_near_where_it_started() -> None:
    initial = previous()
    other_cold = train_embeddings(graph(), NODES, replace(FAST, seed=8), device="cpu")
    warm = train_embeddings(
        graph(), NODES, replace(FAST, seed=8), device="cpu", initial=initial
    ).embeddings
    moved_warm = (warm[:10] - initial.vectors).norm(dim=1).mean()
    moved_cold = (other_cold.embeddings[:10] - initial.vectors).norm(dim=1).mean()
    assert moved_warm < moved_cold / 2


def remote(initial: Initial | None, edges: list[tuple[int, int]] = EDGES) -> np.ndarray:
    params = pb.TrainParameters(walk_length=8, context_size=4, walks_per_node=2, epochs=2, seed=7)

    async def run() -> np.ndarray:
        servicer = EmbedderServicer(device="cpu")
        async with serve_grpc(
            lambda server: pb_grpc.add_EmbedderServiceServicer_to_server(servicer, server)
        ) as channel:
            result = await train_remote(
                channel,
                num_nodes=NODES,
                edges=edges,
                parameters=params,
                timeout=60,
                initial=initial,
            )
            return result.embeddings

    return asyncio.run(run())


def test_initial_vectors_cross_the_wire() -> None:
    initial = previous()
    local = train_embeddings(graph(), NODES, FAST, device="cpu", initial=initial)
    sent = (initial.nodes.numpy().astype(np.int32), initial.vectors.numpy())
    assert np.array_equal(remote(sent), local.embeddings.numpy())


@pytest.mark.parametrize(
    ("nodes", "vectors", "message"),
    [
        ([0], np.zeros((1, 8), np.float32), "8-d, the embedding 64-d"),
        ([0, 0], np.zeros((2, 64), np.float32), "more than once"),
        ([12], np.zeros((1, 64), np.float32), "outside [0, 12)"),
        ([1], np.full((1, 64), np.nan, np.float32), "must be finite"),
    ],
)
def test_bad_initial_vectors_are_invalid_argument(
    nodes: list[int], vectors: np.ndarray, message: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        remote((np.array(nodes, np.int32), vectors))
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in (failure.value.details() or "")
