"""The walk sampler: steps follow edges, runs are reproducible, p/q bias matches node2vec."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor
from torch_geometric.index import index2ptr
from torch_geometric.utils import to_undirected

from services.embedder.walks import random_walks


def csr(edges: list[tuple[int, int]], num_nodes: int) -> tuple[Tensor, Tensor]:
    """Sorted CSR of the undirected version of `edges`."""
    edge_index = to_undirected(torch.tensor(edges, dtype=torch.long).t(), num_nodes=num_nodes)
    return index2ptr(edge_index[0], num_nodes), edge_index[1]


def torus(side: int) -> list[tuple[int, int]]:
    """A side x side wrap-around grid: every node has degree 4 and no triangles."""
    edges = []
    for r in range(side):
        for c in range(side):
            node = r * side + c
            edges.append((node, r * side + (c + 1) % side))
            edges.append((node, ((r + 1) % side) * side + c))
    return edges


def return_rate(walks: Tensor) -> float:
    """Share of steps (from the second on) that go straight back to the previous node."""
    return (walks[:, 2:] == walks[:, :-2]).float().mean().item()


def distinct_nodes(walks: Tensor) -> float:
    """Mean number of distinct nodes a walk visits."""
    return sum(len(set(row)) for row in walks.tolist()) / walks.size(0)


@pytest.mark.parametrize(("p", "q"), [(1.0, 1.0), (0.5, 2.0), (2.0, 0.25)])
def test_every_step_follows_an_edge_or_stays_on_an_isolated_node(p: float, q: float) -> None:
    edges = [(0, 1), (1, 2), (2, 0), (2, 3), (4, 3), (5, 6)]
    num_nodes = 8  # node 7 is isolated
    rowptr, col = csr(edges, num_nodes)
    allowed = {(a, b) for a, b in edges} | {(b, a) for a, b in edges} | {(7, 7)}
    start = torch.arange(num_nodes).repeat(20)

    walks = random_walks(rowptr, col, start, 12, p, q, torch.Generator().manual_seed(0))

    assert walks.shape == (start.numel(), 13)
    assert torch.equal(walks[:, 0], start)
    steps = set(zip(walks[:, :-1].flatten().tolist(), walks[:, 1:].flatten().tolist(), strict=True))
    assert steps <= allowed


def test_no_edges_means_every_walker_stays() -> None:
    rowptr, col = torch.zeros(4, dtype=torch.long), torch.zeros(0, dtype=torch.long)
    walks = random_walks(rowptr, col, torch.arange(3), 5, p=0.5, q=2.0)
    assert torch.equal(walks, torch.arange(3).unsqueeze(1).expand(3, 6))


@pytest.mark.parametrize(("p", "q"), [(1.0, 1.0), (0.5, 2.0)])
def test_walks_are_reproducible_for_a_seeded_generator(p: float, q: float) -> None:
    rowptr, col = csr(torus(6), 36)
    start = torch.arange(36).repeat(5)

    def sample(seed: int) -> Tensor:
        return random_walks(rowptr, col, start, 10, p, q, torch.Generator().manual_seed(seed))

    assert torch.equal(sample(1), sample(1))
    assert not torch.equal(sample(1), sample(2))


@pytest.mark.parametrize(("p", "q"), [(1.0, 1.0), (1.0, 10.0), (1.0, 0.1), (0.25, 1.0)])
def test_return_rate_matches_node2vec_weights_on_a_triangle_free_graph(p: float, q: float) -> None:
    # From any node of the torus: one way back (weight 1/p), three onwards (1/q each),
    # none to a common neighbour of the previous node.
    rowptr, col = csr(torus(10), 100)
    start = torch.arange(100).repeat(40)
    walks = random_walks(rowptr, col, start, 10, p, q, torch.Generator().manual_seed(3))
    expected = (1 / p) / (1 / p + 3 / q)
    assert return_rate(walks) == pytest.approx(expected, abs=0.02)


def test_small_q_walks_go_further_than_large_q() -> None:
    rowptr, col = csr(torus(10), 100)
    start = torch.arange(100).repeat(40)
    generator = torch.Generator().manual_seed(4)
    outward = random_walks(rowptr, col, start, 10, 1.0, 0.05, generator)
    local = random_walks(rowptr, col, start, 10, 1.0, 20.0, generator)
    assert return_rate(outward) < 0.05 < 0.8 < return_rate(local)
    assert distinct_nodes(outward) > 1.5 * distinct_nodes(local)


def test_neighbours_of_the_previous_node_get_weight_one() -> None:
    # In K5 every onward candidate is also a neighbour of the previous node, so q has
    # no effect: returning has probability 1/4 whatever q is.
    rowptr, col = csr([(a, b) for a in range(5) for b in range(a + 1, 5)], 5)
    start = torch.arange(5).repeat(400)
    walks = random_walks(rowptr, col, start, 10, 1.0, 0.1, torch.Generator().manual_seed(5))
    assert return_rate(walks) == pytest.approx(0.25, abs=0.02)


def test_p_and_q_must_be_positive() -> None:
    rowptr, col = csr([(0, 1)], 2)
    with pytest.raises(ValueError, match="positive"):
        random_walks(rowptr, col, torch.arange(2), 3, p=0.0)


CHI2_CRITICAL_DF3_P001 = 16.266
"""Chi-square critical value, 3 degrees of freedom, significance 0.001."""


@pytest.mark.parametrize("p", [0.25, 1.0, 4.0])
@pytest.mark.parametrize("q", [0.25, 1.0, 4.0])
def test_second_step_frequencies_match_node2vec_chi_square(p: float, q: float) -> None:
    """Walks 0 → 1 → x on the graph 0-1, 0-2, 1-2, 1-3, 1-4: from 1 having come from
    0, node2vec weighs x = 0 by 1/p, x = 2 (a neighbour of 0) by 1, and x = 3, 4 by 1/q."""
    rowptr, col = csr([(0, 1), (0, 2), (1, 2), (1, 3), (1, 4)], 5)
    walks = random_walks(
        rowptr,
        col,
        torch.zeros(40_000, dtype=torch.long),
        2,
        p,
        q,
        torch.Generator().manual_seed(9),
    )
    second = walks[walks[:, 1] == 1, 2]
    observed = torch.bincount(second, minlength=5)[[0, 2, 3, 4]].double()
    weights = torch.tensor([1 / p, 1.0, 1 / q, 1 / q], dtype=torch.double)
    expected = weights / weights.sum() * observed.sum()
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    assert chi2 < CHI2_CRITICAL_DF3_P001, (observed.tolist(), expected.tolist())
