"""What one training will cost, estimated from its request before anything is allocated.

Each parameter has its own cap (`server.LIMITS`), but caps alone do not bound a run:
10 nodes with walks of 1,000 steps, 1,000 walks per node and 1,000 epochs passes every
one of them and took 4.1 GB in 15 s. So the embedder estimates, from the node count,
the edges, the walks, their length, the epochs and the dimension:

- **memory**, the peak of one run: the walk graph (the edge list and its undirected
  CSR copy), the two embedding tables with their optimiser state, a warm start's
  initial vectors, one draw of walks, and one batch's gathered vectors, scores and
  gradients;
- **work**, the walk steps trained: nodes x walks per node x walk length x epochs;

and refuses a request over a budget (`ALEXANDRIA_EMBEDDER_MAX_MEMORY_BYTES`,
`ALEXANDRIA_EMBEDDER_MAX_WALK_STEPS`, `ALEXANDRIA_EMBEDDER_MAX_EDGES`) with
RESOURCE_EXHAUSTED naming it.
Edges and initial vectors are counted as they stream in, so a stream is stopped as soon
as it passes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from services.embedder.node2vec import BATCHES_PER_DRAW
from services.embedder.train import CENTER_STRIDE, TrainConfig

FLOAT, INDEX = 4, 8  # bytes of an embedding value and of a node id
TABLES = 4  # the embedding and context tables, and an optimiser state the size of each
GRAPH_COPIES = 9  # the edge list, and the copies of its undirected double made on the way
RUNTIME_BYTES = 64 << 20  # what torch allocates for any run (thread pools, allocator)


class OverBudget(Exception):
    """A request past one of the embedder's budgets; the message names it."""


@dataclass(frozen=True)
class Budget:
    memory_bytes: int
    walk_steps: int
    edges: int


DEFAULT_BUDGET = Budget(memory_bytes=4 << 30, walk_steps=5_000_000_000, edges=20_000_000)
"""The settings' defaults: a 200,000-file repository with a million import edges needs,
at the default parameters, an estimated 0.5 GiB and 4 x 10^8 walk steps."""


def walk_steps(config: TrainConfig, num_nodes: int) -> int:
    return num_nodes * config.walks_per_node * config.walk_length * config.epochs


def memory_bytes(
    config: TrainConfig, num_nodes: int, num_edges: int, batch_size: int, initial_rows: int = 0
) -> int:
    """An upper estimate of a run's peak memory (see the module docstring): 1.17-1.38x
    the peak measured on the CPU for five shapes, from 10 nodes with 500-step walks to
    300,000 nodes (services/embedder/README.md), all cold."""
    positions = config.walk_length + 1
    centers = math.ceil(positions / CENTER_STRIDE)
    contexts = positions + config.num_negative_samples
    dim = config.embedding_dim
    graph = INDEX * (2 * num_edges * GRAPH_COPIES + num_nodes + 1)
    tables = TABLES * FLOAT * num_nodes * dim + FLOAT * initial_rows * dim
    pairs = 2 * FLOAT * positions * contexts
    drawn = min(num_nodes, batch_size * BATCHES_PER_DRAW) * config.walks_per_node
    draw = 2 * INDEX * drawn * (positions + config.num_negative_samples)
    walks = min(num_nodes, batch_size) * config.walks_per_node
    batch = walks * (
        INDEX * (centers + contexts)  # the rows gathered
        + 2 * FLOAT * dim * (centers + contexts)  # u and v, and their gradients
        + 4 * FLOAT * centers * contexts  # scores, slopes and temporaries of their size
    )
    return RUNTIME_BYTES + graph + tables + pairs + draw + batch


def check(
    budget: Budget,
    config: TrainConfig,
    num_nodes: int,
    num_edges: int,
    batch_size: int,
    initial_rows: int = 0,
) -> None:
    """Raise OverBudget when the run would pass a budget."""
    steps = walk_steps(config, num_nodes)
    if steps > budget.walk_steps:
        raise OverBudget(
            f"{steps:,} walk steps (nodes x walks_per_node x walk_length x epochs) exceed "
            f"ALEXANDRIA_EMBEDDER_MAX_WALK_STEPS={budget.walk_steps:,}"
        )
    if num_edges > budget.edges:
        raise OverBudget(f"more than ALEXANDRIA_EMBEDDER_MAX_EDGES={budget.edges:,} edges")
    memory = memory_bytes(config, num_nodes, num_edges, batch_size, initial_rows)
    if memory > budget.memory_bytes:
        raise OverBudget(
            f"an estimated {memory / 2**20:,.0f} MiB of memory exceeds "
            f"ALEXANDRIA_EMBEDDER_MAX_MEMORY_BYTES={budget.memory_bytes:,}"
        )
