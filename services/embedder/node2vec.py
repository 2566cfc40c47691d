"""Node2Vec in PyG's design (skip-gram with negative sampling over walks), own sampler.

The model mirrors `torch_geometric.nn.Node2Vec` (`loader`, `pos_sample`, `neg_sample`,
`loss`, `forward`) but samples walks with `services.embedder.walks`, so it runs
without pyg-lib, with any p/q, on the device its buffers live on, and reproducibly
when given a seeded `torch.Generator`. `gradients` computes the loss's gradients in
closed form, which is what `services.embedder.train` trains with: no autograd graph,
and only the rows a batch touches are written.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from services.embedder.pyg import index2ptr, remove_self_loops, to_undirected
from services.embedder.walks import random_walks

BATCHES_PER_DRAW = 64  # the loader samples walks for this many batches at once
ALL_POSITIONS = slice(None)
LOSS_SAMPLE_WALKS = 256  # `gradients` reports the loss of this many walks of its batch


@dataclass(frozen=True)
class SparseGradients:
    """The loss of one batch (estimated on up to LOSS_SAMPLE_WALKS of its walks) and
    its gradient, row by row, for both tables.

    `embedding_rows[i]` is the row of `embedding` that `embedding_grad[i]` belongs to
    (likewise for `context`); a row appears once per occurrence in the batch.
    """

    loss: Tensor
    embedding_rows: Tensor
    embedding_grad: Tensor
    context_rows: Tensor
    context_grad: Tensor


class Node2Vec(torch.nn.Module):
    """Skip-gram Node2Vec over a graph, made undirected (and self-loop free) for walks.

    Differences from PyG's module, each chosen for quality or speed on a CPU:

    - `walk_length` counts steps (a walk has `walk_length + 1` nodes), as in the
      service contract.
    - Positive pairs are every two walk positions closer than `context_size`, in
      both directions (word2vec's window), not PyG's forward windows. One batched
      matrix product per walk scores them all, so each walk's vectors are gathered
      once rather than once per window.
    - Negatives are drawn per walk: `num_negative_samples` uniform nodes that every
      position of the walk is scored against, weighted so that each position's
      negatives weigh as much as its positive pairs. They join the same matrix
      product as the positives.
    - Two tables, as in word2vec: `embedding` (node vectors u) and `context`
      (context vectors v). Two nodes that share neighbours end up with close u
      without having to be close to those neighbours, which separates communities
      better than PyG's single table.
    - `forward` returns u + v, not u alone (Levy, Goldberg and Dagan 2015, "w + c").
      Skip-gram fits u_i . v_j to how often j occurs near i, so an edge shows in
      u . v, which u alone loses: on code import graphs, where a few hub files are
      imported by most others, the neighbours of a hub share contexts with each
      other, not with the hub.
    """

    rowptr: Tensor
    col: Tensor
    pair_target: Tensor
    pair_weight: Tensor

    def __init__(
        self,
        edge_index: Tensor,
        embedding_dim: int,
        walk_length: int,
        context_size: int,
        walks_per_node: int = 1,
        p: float = 1.0,
        q: float = 1.0,
        num_negative_samples: int = 2,
        num_nodes: int | None = None,
        sparse: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if not 2 <= context_size <= walk_length + 1:
            raise ValueError(
                f"context_size must be in [2, walk_length + 1], got {context_size} "
                f"with walk_length {walk_length}"
            )
        if num_negative_samples < 1:
            raise ValueError(f"num_negative_samples must be >= 1, got {num_negative_samples}")
        if num_nodes is None:
            num_nodes = int(edge_index.max()) + 1 if edge_index.numel() > 0 else 0
        if num_nodes < 1:
            raise ValueError("a graph needs at least one node")
        edge_index, _ = remove_self_loops(edge_index.long())
        edge_index = to_undirected(edge_index, num_nodes=num_nodes)  # sorted by (row, col)
        self.register_buffer("rowptr", index2ptr(edge_index[0], num_nodes), persistent=False)
        self.register_buffer("col", edge_index[1].contiguous(), persistent=False)
        target, weight = _pair_weights(walk_length + 1, context_size, num_negative_samples)
        self.register_buffer("pair_target", target, persistent=False)
        self.register_buffer("pair_weight", weight, persistent=False)
        self.pairs_by_position = target.sum(1).tolist()  # on the host: no device sync per batch

        self.num_nodes = num_nodes
        self.embedding_dim = embedding_dim
        self.walk_length = walk_length
        self.context_size = context_size
        self.walks_per_node = walks_per_node
        self.p = p
        self.q = q
        self.num_negative_samples = num_negative_samples
        self.generator = generator
        self.embedding = torch.nn.Embedding(num_nodes, embedding_dim, sparse=sparse)
        self.context = torch.nn.Embedding(num_nodes, embedding_dim, sparse=sparse)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """word2vec's start: small random node vectors, zero context vectors."""
        bound = 0.5 / self.embedding_dim
        torch.nn.init.uniform_(self.embedding.weight, -bound, bound, generator=self.generator)
        torch.nn.init.zeros_(self.context.weight)

    @torch.no_grad()
    def start_from(self, nodes: Tensor, vectors: Tensor) -> None:
        """Warm start: `forward` of node `nodes[i]` starts at `vectors[i]` (a previous
        training's u + v), split evenly: u = v = vectors[i] / 2. (u = vectors[i] with
        v = 0, as in a cold start, lost cosine AUC at every step of a chain of warm
        starts: benchmarks/README.md, `warm_start.py`.)"""
        half = vectors.to(self.embedding.weight) / 2
        self.embedding.weight[nodes.long()] = half
        self.context.weight[nodes.long()] = half

    def forward(self, batch: Tensor | None = None) -> Tensor:
        """The embeddings (node plus context vector) of the nodes in `batch`, or of all."""
        if batch is None:
            return self.embedding.weight + self.context.weight
        return self.embedding(batch) + self.context(batch)

    def loader(self, batch_size: int, shuffle: bool = True) -> WalkLoader:
        """Batches of `(pos_rw, neg)` for every node, `batch_size` start nodes each."""
        return WalkLoader(self, batch_size, shuffle)

    def sample(self, batch: Tensor) -> tuple[Tensor, Tensor]:
        """Walks and negatives for the start nodes in `batch`."""
        batch = batch.to(self.rowptr.device)
        return self.pos_sample(batch), self.neg_sample(batch)

    def pos_sample(self, batch: Tensor) -> Tensor:
        """`walks_per_node` random walks from each node in `batch`, `[n, walk_length + 1]`."""
        start = batch.repeat_interleave(self.walks_per_node)
        return random_walks(
            self.rowptr, self.col, start, self.walk_length, self.p, self.q, self.generator
        )

    def neg_sample(self, batch: Tensor) -> Tensor:
        """Uniform random nodes, `[n, num_negative_samples]`: one row per walk of `batch`."""
        rows = batch.numel() * self.walks_per_node
        return torch.randint(
            self.num_nodes,
            (rows, self.num_negative_samples),
            device=batch.device,
            generator=self.generator,
        )

    def loss(self, pos_rw: Tensor, neg: Tensor, centers: slice = ALL_POSITIONS) -> Tensor:
        """Skip-gram negative-sampling loss of walks `pos_rw` with negatives `neg` (autograd).

        For walk positions i != j with |i - j| < context_size, -log sigmoid(u_i . v_j);
        for each position i and negative r of its walk, -w_i log sigmoid(-u_i . v_r),
        w_i being i's number of positive pairs over the number of negatives. Only
        positions i in `centers` count; the sum is divided by the number of their
        positive pairs. (u = `embedding`, v = `context`.)
        """
        u = self.embedding(pos_rw[:, centers])
        scores = self._scores(u, self.context(torch.cat([pos_rw, neg], 1)))
        return self._weighted_bce(scores, centers)

    @torch.no_grad()
    def gradients(
        self, pos_rw: Tensor, neg: Tensor, centers: slice = ALL_POSITIONS
    ) -> SparseGradients:
        """The gradients of `loss(pos_rw, neg, centers)` in closed form, without autograd.

        With S = U V^T per walk, dL/dS = (sigmoid(S) - target) * weight / pairs, so
        dL/dU = dL/dS V and dL/dV = dL/dS^T U: three batched matrix products in all.
        The loss itself is computed on the first LOSS_SAMPLE_WALKS walks only (the
        walks of a batch are in random order): on the full batch it would cost a
        tenth of the step.
        """
        walks = pos_rw.size(0)
        center_rows = pos_rw[:, centers].reshape(-1)
        context_rows = torch.cat([pos_rw, neg], 1).reshape(-1)
        u = self.embedding.weight.index_select(0, center_rows).view(walks, -1, self.embedding_dim)
        v = self.context.weight.index_select(0, context_rows).view(walks, -1, u.size(2))
        scores = self._scores(u, v)
        loss = self._weighted_bce(scores[:LOSS_SAMPLE_WALKS], centers)
        slope = torch.sigmoid_(scores).sub_(self.pair_target[centers])
        slope.mul_(self.pair_weight[centers]).div_(walks * sum(self.pairs_by_position[centers]))
        return SparseGradients(
            loss=loss,
            embedding_rows=center_rows,
            embedding_grad=torch.bmm(slope, v).view(-1, u.size(2)),
            context_rows=context_rows,
            context_grad=torch.bmm(slope.transpose(1, 2), u).view(-1, u.size(2)),
        )

    def _scores(self, u: Tensor, v: Tensor) -> Tensor:
        """`[walks, positions, positions + negatives]` dot products of u_i and v_j."""
        return torch.bmm(u, v.transpose(1, 2))

    def _weighted_bce(self, scores: Tensor, centers: slice) -> Tensor:
        target = self.pair_target[centers].expand_as(scores)
        bce = F.binary_cross_entropy_with_logits(scores, target, reduction="none")
        pairs = scores.size(0) * sum(self.pairs_by_position[centers])
        return (bce * self.pair_weight[centers]).sum() / pairs

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.num_nodes}, {self.embedding_dim})"


def _pair_weights(positions: int, context_size: int, negatives: int) -> tuple[Tensor, Tensor]:
    """`[positions, positions + negatives]` target (1 for positive pairs) and weight."""
    index = torch.arange(positions)
    distance = (index.unsqueeze(0) - index.unsqueeze(1)).abs()
    band = ((distance > 0) & (distance < context_size)).float()
    negative_weight = (band.sum(1, keepdim=True) / negatives).expand(positions, negatives)
    target = torch.cat([band, torch.zeros(positions, negatives)], 1)
    weight = torch.cat([band, negative_weight], 1)
    return target, weight


class WalkLoader:
    """One epoch of `(pos_rw, neg)` batches over every node, in a random order.

    Walks are sampled for BATCHES_PER_DRAW batches at once: one pass of the sampler
    over many walkers costs far less per walk than one pass per batch.
    """

    def __init__(self, model: Node2Vec, batch_size: int, shuffle: bool = True) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model = model
        self.batch_size = batch_size
        self.shuffle = shuffle

    def __len__(self) -> int:
        return -(-self.model.num_nodes // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        model = self.model
        device = model.rowptr.device
        if self.shuffle:
            order = torch.randperm(model.num_nodes, device=device, generator=model.generator)
        else:
            order = torch.arange(model.num_nodes, device=device)
        walks_per_batch = self.batch_size * model.walks_per_node
        for first in range(0, model.num_nodes, self.batch_size * BATCHES_PER_DRAW):
            pos_rw, neg = model.sample(order[first : first + self.batch_size * BATCHES_PER_DRAW])
            for start in range(0, pos_rw.size(0), walks_per_batch):
                end = start + walks_per_batch
                yield pos_rw[start:end], neg[start:end]
