"""The embedder's budget arithmetic: each budget is named when passed, and the memory
estimate grows with every parameter that grows a run."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.embedder.budget import (
    DEFAULT_BUDGET,
    Budget,
    OverBudget,
    check,
    memory_bytes,
    walk_steps,
)
from services.embedder.train import TrainConfig


def test_each_budget_is_named_when_passed() -> None:
    small = Budget(memory_bytes=256 << 20, walk_steps=10**6, edges=1000)
    config = TrainConfig(epochs=1)
    check(small, config, 100, 500, 4)  # within all three
    with pytest.raises(OverBudget, match="ALEXANDRIA_EMBEDDER_MAX_WALK_STEPS"):
        check(small, dataclasses.replace(config, epochs=1000), 100, 500, 4)
    with pytest.raises(OverBudget, match="ALEXANDRIA_EMBEDDER_MAX_EDGES"):
        check(small, config, 100, 1001, 4)
    with pytest.raises(OverBudget, match="ALEXANDRIA_EMBEDDER_MAX_MEMORY_BYTES"):
        check(small, dataclasses.replace(config, walk_length=500, walks_per_node=200), 10, 5, 1)


def test_the_defaults_admit_a_large_repository_and_refuse_the_known_abuse() -> None:
    check(DEFAULT_BUDGET, TrainConfig(), 200_000, 1_000_000, 256)
    abuse = TrainConfig(walk_length=1000, walks_per_node=1000, epochs=1000)
    assert walk_steps(abuse, 10) == 10**10
    with pytest.raises(OverBudget):
        check(DEFAULT_BUDGET, abuse, 10, 20, 1)
    with pytest.raises(OverBudget, match="MEMORY"):
        check(DEFAULT_BUDGET, dataclasses.replace(abuse, epochs=1), 10, 20, 1)


@settings(max_examples=200, deadline=None)
@given(
    nodes=st.integers(1, 10**6),
    edges=st.integers(0, 10**7),
    walk_length=st.integers(2, 1000),
    walks_per_node=st.integers(1, 1000),
    dim=st.integers(1, 1024),
    batch=st.integers(1, 2048),
    grow=st.sampled_from(["nodes", "edges", "walk_length", "walks_per_node", "dim", "batch"]),
)
def test_the_memory_estimate_grows_with_every_parameter(
    nodes: int, edges: int, walk_length: int, walks_per_node: int, dim: int, batch: int, grow: str
) -> None:
    def estimate(n: int, e: int, length: int, walks: int, d: int, b: int) -> int:
        config = TrainConfig(
            walk_length=length, walks_per_node=walks, embedding_dim=d, context_size=2
        )
        return memory_bytes(config, n, e, b)

    values = {
        "nodes": nodes,
        "edges": edges,
        "walk_length": walk_length,
        "walks_per_node": walks_per_node,
        "dim": dim,
        "batch": batch,
    }
    before = estimate(*values.values())
    values[grow] += 1
    assert estimate(*values.values()) >= before > 0


def test_a_warm_start_counts_its_initial_vectors() -> None:
    config = TrainConfig()
    cold = memory_bytes(config, 100_000, 500_000, 256)
    assert memory_bytes(config, 100_000, 500_000, 256, 100_000) == cold + 4 * 64 * 100_000
    tight = Budget(memory_bytes=cold, walk_steps=10**12, edges=10**7)
    check(tight, config, 100_000, 500_000, 256)
    with pytest.raises(OverBudget, match="ALEXANDRIA_EMBEDDER_MAX_MEMORY_BYTES"):
        check(tight, config, 100_000, 500_000, 256, 1)
