"""Node2Vec in PyG's design (skip-gram with negative sampling over walks), own sampler.

The model mirrors `torch_geometric.nn.Node2Vec` (`loader`, `pos_sample`, `neg_sample`,
`loss`, `forward`) but samples walks with `services.embedder.walks`, so it runs
without pyg-lib, with any p/q, on the device its buffers live on, and reproducibly
when given a seeded `torch.Generator`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader
from torch_geometric.index import index2ptr
from torch_geometric.utils import remove_self_loops, to_undirected

from services.embedder.walks import random_walks


class Node2Vec(torch.nn.Module):
    """Skip-gram Node2Vec over a graph, made undirected (and self-loop free) for walks.

    Unlike PyG, `walk_length` counts steps (a walk has `walk_length + 1` nodes), as in
    the service contract, and `loss` scores every pair of walk positions closer than
    `context_size` in both directions (word2vec's window) rather than PyG's forward
    windows; `pos_sample` therefore returns whole walks, not windows.

    Two tables, as in word2vec: `embedding` (the node vectors, returned by `forward`)
    and `context` (vectors of nodes seen as context). Separate tables let two nodes
    that share neighbours end up close without having to be close to those
    neighbours, which trains faster and separates communities better than PyG's
    single shared table.
    """

    rowptr: Tensor
    col: Tensor

    def __init__(
        self,
        edge_index: Tensor,
        embedding_dim: int,
        walk_length: int,
        context_size: int,
        walks_per_node: int = 1,
        p: float = 1.0,
        q: float = 1.0,
        num_negative_samples: int = 1,
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
        if num_nodes is None:
            num_nodes = int(edge_index.max()) + 1 if edge_index.numel() > 0 else 0
        if num_nodes < 1:
            raise ValueError("a graph needs at least one node")
        edge_index, _ = remove_self_loops(edge_index.long())
        edge_index = to_undirected(edge_index, num_nodes=num_nodes)  # sorted by (row, col)
        self.register_buffer("rowptr", index2ptr(edge_index[0], num_nodes), persistent=False)
        self.register_buffer("col", edge_index[1].contiguous(), persistent=False)

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

    def forward(self, batch: Tensor | None = None) -> Tensor:
        """The embeddings of the nodes in `batch`, or of all nodes."""
        weight = self.embedding.weight
        return weight if batch is None else weight[batch]

    def loader(self, **kwargs: object) -> DataLoader:
        """A DataLoader over node ids whose batches are `(pos_rw, neg_rw)` windows."""
        return DataLoader(range(self.num_nodes), collate_fn=self.sample, **kwargs)  # type: ignore[arg-type]

    def sample(self, batch: list[int] | Tensor) -> tuple[Tensor, Tensor]:
        """Positive and negative windows for the start nodes in `batch`."""
        if not isinstance(batch, Tensor):
            batch = torch.tensor(batch, dtype=torch.long)
        batch = batch.to(self.rowptr.device)
        return self.pos_sample(batch), self.neg_sample(batch)

    def pos_sample(self, batch: Tensor) -> Tensor:
        """`walks_per_node` random walks from each node in `batch`, `[n, walk_length + 1]`."""
        start = batch.repeat(self.walks_per_node)
        return random_walks(
            self.rowptr, self.col, start, self.walk_length, self.p, self.q, self.generator
        )

    def neg_sample(self, batch: Tensor) -> Tensor:
        """Uniform random nodes: `num_negative_samples` per position of each positive walk."""
        rows = batch.numel() * self.walks_per_node * self.num_negative_samples
        return torch.randint(
            self.num_nodes,
            (rows, self.walk_length + 1),
            device=batch.device,
            generator=self.generator,
        )

    def loss(self, pos_rw: Tensor, neg_rw: Tensor) -> Tensor:
        """Skip-gram negative-sampling loss over every pair within `context_size` of a walk.

        Positive pairs are walk positions i != j with |i - j| < context_size, scored
        -log sigmoid(u_i.v_j) (u = `embedding`, v = `context`). Each has
        `num_negative_samples` negatives (u_i, v_r), r at position j of a `neg_rw` row,
        scored -log sigmoid(-u_i.v_r). One batched matmul per walk scores all pairs, so
        each walk's vectors are gathered once instead of once per window.
        """
        length = pos_rw.size(1)
        walks = pos_rw.size(0)
        h = self.embedding(pos_rw)  # [n, L, d]
        ctx = self.context(torch.cat([pos_rw, neg_rw])).view(-1, walks, length, h.size(2))
        scores = torch.einsum("nid,knjd->knij", h, ctx)  # [1 + k, n, L, L]
        pos, neg = scores[0], scores[1:]
        band = self._band(length, pos_rw.device)
        pairs = band.sum() * walks
        pos_loss = -(F.logsigmoid(pos) * band).sum() / pairs
        neg_loss = -(F.logsigmoid(-neg) * band).sum() / (pairs * neg.size(0))
        return pos_loss + neg_loss

    def _band(self, length: int, device: torch.device) -> Tensor:
        """`[L, L]` float mask of the pairs 0 < |i - j| < context_size."""
        pos = torch.arange(length, device=device)
        dist = (pos.unsqueeze(0) - pos.unsqueeze(1)).abs()
        return ((dist > 0) & (dist < self.context_size)).float()

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.num_nodes}, {self.embedding_dim})"
