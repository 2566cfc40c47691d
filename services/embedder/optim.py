"""Row-wise Adagrad for embedding tables updated a few rows at a time.

PyTorch-BigGraph's optimiser: one accumulator per row (the running sum of the mean
squared gradient of that row) instead of one per element, so the state costs 4 bytes
a row, and a step reads and writes only the rows a batch touched. Dense Adam writes
the whole table every step (at 100,000 nodes, 400 times the rows a batch touches);
torch's SparseAdam spends most of each step coalescing. Adagrad's per-row scale also
tames hub nodes, whose gradient in a batch is the sum over hundreds of occurrences.
"""

from __future__ import annotations

import torch
from torch import Tensor


class RowAdagrad:
    """Accumulate row gradients with `add`, then apply them with `step`."""

    def __init__(self, table: Tensor, lr: float, eps: float = 1e-10) -> None:
        if lr <= 0:
            raise ValueError(f"lr must be positive, got {lr}")
        self.table = table
        self.lr = lr
        self.eps = eps
        self.state = torch.zeros(table.size(0), device=table.device)
        self._pending = torch.zeros_like(table)
        self._touched = torch.zeros(table.size(0), dtype=torch.bool, device=table.device)

    @torch.no_grad()
    def add(self, rows: Tensor, grad: Tensor) -> None:
        """Add `grad[i]` to the pending gradient of row `rows[i]` (rows may repeat)."""
        self._pending.index_add_(0, rows, grad)
        self._touched[rows] = True

    @torch.no_grad()
    def step(self) -> None:
        """Update every row with a pending gradient g: state += mean(g^2);
        row -= lr * g / sqrt(state). Pending gradients are cleared."""
        rows = self._touched.nonzero().squeeze(1)
        grad = self._pending.index_select(0, rows)
        state = self.state.index_select(0, rows).add_(grad.pow(2).mean(1))
        self.state.index_copy_(0, rows, state)
        grad.mul_((self.lr / state.sqrt_().add_(self.eps)).unsqueeze(1))
        self.table.index_add_(0, rows, grad, alpha=-1.0)
        self._pending.index_fill_(0, rows, 0.0)
        self._touched.index_fill_(0, rows, False)
