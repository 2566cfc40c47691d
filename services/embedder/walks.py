"""Vectorised random walks over a CSR graph, the same torch code on CPU and CUDA.

PyG's Node2Vec needs pyg-lib for walks, which has no PyPI wheel and walks only with
p = q = 1. This sampler steps every walker at once: uniform neighbour choice for
p = q = 1, and node2vec's second-order bias by rejection sampling otherwise (see
`random_walks`). pyg-lib's kernel is used when it is installed and p = q = 1.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

try:  # pragma: no cover - pyg-lib has no PyPI wheel; exercised only where installed
    import pyg_lib  # noqa: F401

    _PYG_LIB_WALK = hasattr(torch.ops.pyg, "random_walk")
except ImportError:
    _PYG_LIB_WALK = False

MAX_DRAWS_PER_ROUND = 8


def random_walks(
    rowptr: Tensor,
    col: Tensor,
    start: Tensor,
    walk_length: int,
    p: float = 1.0,
    q: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Sample one walk of `walk_length` steps from each node in `start`.

    `rowptr`/`col` is a CSR adjacency with each row's columns sorted ascending (the
    second-order test searches it). Returns `[len(start), walk_length + 1]` node ids,
    column 0 being `start`. A walker on a node with no neighbours stays in place.

    With p = q = 1 each step picks a neighbour uniformly. Otherwise a candidate drawn
    uniformly among the current node's neighbours is accepted with probability
    `w / max(1/p, 1, 1/q)`, where `w` is 1/p when it returns to the previous node, 1
    when it is a neighbour of the previous node and 1/q otherwise; rejected walkers
    redraw, all at once, until every walker has moved (several candidates per round
    when acceptance can be low, up to MAX_DRAWS_PER_ROUND).
    """
    if not (p > 0 and q > 0):
        raise ValueError(f"p and q must be positive, got p={p}, q={q}")
    rowptr, col, start = rowptr.long(), col.long(), start.long()
    uniform = p == 1.0 and q == 1.0
    if _PYG_LIB_WALK and uniform and (generator is None or start.is_cuda):  # pragma: no cover
        walks = torch.ops.pyg.random_walk(rowptr, col, start, walk_length, p, q)
        return walks if isinstance(walks, Tensor) else walks[0]

    walks = torch.empty(start.numel(), walk_length + 1, dtype=torch.long, device=start.device)
    walks[:, 0] = start
    if walk_length == 0:
        return walks
    if col.numel() == 0:
        walks[:, 1:] = start.unsqueeze(1)
        return walks

    walks[:, 1] = _uniform_step(rowptr, col, start, generator)
    if uniform:
        for step in range(2, walk_length + 1):
            walks[:, step] = _uniform_step(rowptr, col, walks[:, step - 1], generator)
        return walks

    num_nodes = rowptr.numel() - 1
    row = torch.arange(num_nodes, device=rowptr.device).repeat_interleave(rowptr.diff())
    edge_keys = row * num_nodes + col  # sorted, because rows and each row's columns are
    raw = (1.0 / p, 1.0, 1.0 / q)
    weights = torch.tensor(raw, device=start.device) / max(raw)
    draws = min(MAX_DRAWS_PER_ROUND, math.ceil(max(raw) / min(raw)))
    for step in range(2, walk_length + 1):
        walks[:, step] = _biased_step(
            rowptr,
            col,
            edge_keys,
            walks[:, step - 2],
            walks[:, step - 1],
            weights,
            draws,
            generator,
        )
    return walks


def _uniform_step(
    rowptr: Tensor, col: Tensor, cur: Tensor, generator: torch.Generator | None
) -> Tensor:
    """One uniform step from each node in `cur`; nodes without neighbours stay."""
    begin = rowptr[cur]
    deg = rowptr[cur + 1] - begin
    rand = torch.rand(cur.numel(), device=cur.device, generator=generator)
    offset = torch.minimum((rand * deg).long(), (deg - 1).clamp(min=0))
    nxt = col[(begin + offset).clamp(max=col.numel() - 1)]
    return torch.where(deg > 0, nxt, cur)


def _biased_step(
    rowptr: Tensor,
    col: Tensor,
    edge_keys: Tensor,
    prev: Tensor,
    cur: Tensor,
    weights: Tensor,
    draws: int,
    generator: torch.Generator | None,
) -> Tensor:
    """One node2vec step by rejection sampling; only still-rejected walkers redraw.

    Each round draws `draws` candidates per pending walker and keeps the first accepted
    one: fewer rounds, each of fixed cost, when acceptance rates are low.
    """
    num_nodes = rowptr.numel() - 1
    nxt = cur.clone()
    pending = torch.nonzero(rowptr[cur + 1] > rowptr[cur]).squeeze(1)
    while pending.numel() > 0:
        prev_p = prev[pending].repeat_interleave(draws)
        cand = _uniform_step(rowptr, col, cur[pending].repeat_interleave(draws), generator)
        key = prev_p * num_nodes + cand
        pos = torch.searchsorted(edge_keys, key).clamp(max=edge_keys.numel() - 1)
        kind = torch.where(cand == prev_p, 0, torch.where(edge_keys[pos] == key, 1, 2))
        rand = torch.rand(cand.numel(), device=cur.device, generator=generator)
        accept = (rand < weights[kind]).view(-1, draws)
        first = accept.int().argmax(dim=1)
        done = accept.any(dim=1)
        chosen = cand.view(-1, draws).gather(1, first.unsqueeze(1)).squeeze(1)
        nxt[pending[done]] = chosen[done]
        pending = pending[~done]
    return nxt
