"""Row-wise Adagrad: only touched rows move, repeated rows add up, steps shrink."""

from __future__ import annotations

import pytest
import torch

from services.embedder.optim import RowAdagrad


def test_only_rows_with_a_gradient_change() -> None:
    table = torch.ones(5, 3)
    optimizer = RowAdagrad(table, lr=0.5)
    optimizer.add(torch.tensor([1, 3]), torch.ones(2, 3))
    optimizer.step()
    assert torch.equal(table[[0, 2, 4]], torch.ones(3, 3))
    # first step: g / sqrt(mean(g^2)) = 1 per element, times lr
    assert torch.allclose(table[[1, 3]], torch.full((2, 3), 0.5))


def test_repeated_rows_sum_their_gradients_before_the_step() -> None:
    table = torch.zeros(2, 2)
    optimizer = RowAdagrad(table, lr=1.0)
    optimizer.add(torch.tensor([0, 0, 1]), torch.tensor([[1.0, 0.0], [1.0, 2.0], [3.0, 4.0]]))
    optimizer.step()
    assert torch.allclose(optimizer.state, torch.tensor([(4 + 4) / 2, (9 + 16) / 2]))
    assert torch.allclose(table[0], -torch.tensor([2.0, 2.0]) / 2)


def test_later_steps_are_smaller_and_pending_gradients_are_cleared() -> None:
    table = torch.zeros(1, 4)
    optimizer = RowAdagrad(table, lr=1.0)
    moves = []
    for _ in range(3):
        before = table.clone()
        optimizer.add(torch.tensor([0]), torch.ones(1, 4))
        optimizer.step()
        moves.append(float((before - table).norm()))
    assert moves[0] > moves[1] > moves[2]
    optimizer.step()  # nothing pending: nothing moves
    assert torch.allclose(table, torch.full((1, 4), -(1 + 2**-0.5 + 3**-0.5)))


def test_lr_must_be_positive() -> None:
    with pytest.raises(ValueError, match="lr"):
        RowAdagrad(torch.zeros(1, 1), lr=0.0)
