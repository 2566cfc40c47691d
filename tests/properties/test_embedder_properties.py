"""Embedder properties on random small graphs: one finite CPU row per node; walks on edges."""

from __future__ import annotations

from dataclasses import replace

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_geometric.index import index2ptr
from torch_geometric.utils import to_undirected

from services.embedder.train import TrainConfig, train_embeddings
from services.embedder.walks import random_walks

TINY = TrainConfig(walk_length=4, context_size=3, walks_per_node=1, epochs=1, seed=0)


@st.composite
def graphs(draw: st.DrawFn, max_nodes: int = 40) -> tuple[int, list[tuple[int, int]]]:
    """A node count and an edge list over it (self-loops and duplicates allowed)."""
    num_nodes = draw(st.integers(1, max_nodes))
    node = st.integers(0, num_nodes - 1)
    return num_nodes, draw(st.lists(st.tuples(node, node), max_size=3 * max_nodes))


def as_edge_index(edges: list[tuple[int, int]]) -> torch.Tensor:
    return torch.tensor(edges, dtype=torch.long).reshape(-1, 2).t()


@settings(max_examples=100, deadline=None)
@given(graph=graphs(), seed=st.integers(0, 2**31))
def test_every_node_gets_one_finite_cpu_embedding(
    graph: tuple[int, list[tuple[int, int]]], seed: int
) -> None:
    num_nodes, edges = graph
    config = replace(TINY, seed=seed)
    result = train_embeddings(as_edge_index(edges), num_nodes, config, device="cpu")
    assert result.embeddings.shape == (num_nodes, 64)
    assert result.embeddings.dtype == torch.float32
    assert result.embeddings.device.type == "cpu"
    assert torch.isfinite(result.embeddings).all()


@settings(max_examples=100, deadline=None)
@given(
    graph=graphs(),
    p=st.sampled_from([0.25, 1.0, 4.0]),
    q=st.sampled_from([0.25, 1.0, 4.0]),
)
def test_walks_only_follow_edges(
    graph: tuple[int, list[tuple[int, int]]], p: float, q: float
) -> None:
    num_nodes, edges = graph
    edge_index = to_undirected(as_edge_index(edges), num_nodes=num_nodes)
    rowptr, col = index2ptr(edge_index[0], num_nodes), edge_index[1]
    start = torch.arange(num_nodes).repeat(3)
    walks = random_walks(rowptr, col, start, 6, p, q, torch.Generator().manual_seed(0))
    allowed = set(zip(edge_index[0].tolist(), edge_index[1].tolist(), strict=True))
    isolated = (rowptr[1:] == rowptr[:-1]).nonzero().flatten().tolist()
    allowed |= {(v, v) for v in isolated}
    steps = zip(walks[:, :-1].flatten().tolist(), walks[:, 1:].flatten().tolist(), strict=True)
    assert set(steps) <= allowed
