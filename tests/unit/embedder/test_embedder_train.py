"""Node2Vec model and training: shapes (P6), CPU float32 and determinism (P7), quality, edges."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest
import torch
from torch import Tensor

from services.embedder import train as train_module
from services.embedder.node2vec import Node2Vec
from services.embedder.train import (
    DeviceUnavailable,
    EpochReport,
    TrainConfig,
    TrainingCancelled,
    describe_hardware,
    resolve_device,
    train_embeddings,
)

FAST = TrainConfig(walk_length=8, context_size=4, walks_per_node=2, epochs=2, seed=7)


def edge_index(edges: list[tuple[int, int]]) -> Tensor:
    return torch.tensor(edges, dtype=torch.long).reshape(-1, 2).t()


def two_clusters(size: int = 10) -> list[tuple[int, int]]:
    """Two complete graphs of `size` nodes joined by a single edge."""
    edges = []
    for offset in (0, size):
        edges += [(offset + a, offset + b) for a in range(size) for b in range(a + 1, size)]
    return [*edges, (size - 1, size)]


def small_model(
    cluster_size: int,
    seed: int = 0,
    *,
    embedding_dim: int = 8,
    walk_length: int = 4,
    walks_per_node: int = 1,
    num_negative_samples: int = 2,
) -> Node2Vec:
    """A Node2Vec (context 3) over two_clusters(cluster_size) with a seeded generator."""
    return Node2Vec(
        edge_index(two_clusters(cluster_size)),
        embedding_dim=embedding_dim,
        walk_length=walk_length,
        context_size=3,
        walks_per_node=walks_per_node,
        num_negative_samples=num_negative_samples,
        generator=torch.Generator().manual_seed(seed),
    )


def test_model_samples_walks_and_negatives_like_pyg() -> None:
    model = small_model(
        4, embedding_dim=16, walk_length=5, walks_per_node=2, num_negative_samples=3
    )
    loader = model.loader(batch_size=3)
    batches = list(loader)
    assert len(batches) == len(loader) == 3
    pos_rw, neg = batches[0]
    assert pos_rw.shape == (3 * 2, 6)
    assert neg.shape == (3 * 2, 3)
    assert model().shape == (8, 16)
    assert model(torch.tensor([1, 2])).shape == (2, 16)
    assert torch.isfinite(model.loss(pos_rw, neg))


def test_the_embeddings_are_node_plus_context_vectors() -> None:
    model = small_model(4, embedding_dim=8)
    with torch.no_grad():
        model.context.weight.normal_(generator=torch.Generator().manual_seed(1))
    both = model.embedding.weight + model.context.weight
    assert torch.equal(model(), both)
    assert torch.equal(model(torch.tensor([3, 0])), both[[3, 0]])


def test_an_epoch_walks_walks_per_node_times_from_every_node() -> None:
    model = small_model(5, walks_per_node=3)
    starts = torch.cat([pos_rw[:, 0] for pos_rw, _ in model.loader(batch_size=4)])
    assert torch.equal(starts.bincount(minlength=10), torch.full((10,), 3))


@pytest.mark.parametrize("centers", [slice(None), slice(0, None, 2), slice(1, None, 2)])
def test_closed_form_gradients_equal_autograd_of_the_loss(centers: slice) -> None:
    model = small_model(6, 3, walk_length=6, walks_per_node=2, num_negative_samples=4).double()
    torch.nn.init.normal_(model.context.weight)  # zero context vectors hide half the terms
    pos_rw, neg = next(iter(model.loader(batch_size=5)))
    loss = model.loss(pos_rw, neg, centers)
    loss.backward()
    grads = model.gradients(pos_rw, neg, centers)
    embedding_grad = torch.zeros_like(model.embedding.weight)
    embedding_grad.index_add_(0, grads.embedding_rows, grads.embedding_grad)
    context_grad = torch.zeros_like(model.context.weight)
    context_grad.index_add_(0, grads.context_rows, grads.context_grad)
    assert model.embedding.weight.grad is not None and model.context.weight.grad is not None
    assert torch.allclose(grads.loss, loss)
    assert torch.allclose(embedding_grad, model.embedding.weight.grad)
    assert torch.allclose(context_grad, model.context.weight.grad)


def test_model_rejects_a_context_longer_than_the_walk() -> None:
    with pytest.raises(ValueError, match="context_size"):
        Node2Vec(edge_index([(0, 1)]), embedding_dim=8, walk_length=3, context_size=5)


def test_n_nodes_give_n_cpu_float32_embeddings_of_64_dims() -> None:
    result = train_embeddings(edge_index(two_clusters(6)), 15, FAST, device="cpu")
    assert result.embeddings.shape == (15, 64)
    assert result.embeddings.dtype == torch.float32
    assert result.embeddings.device.type == "cpu"
    assert torch.isfinite(result.embeddings).all()
    assert result.device == "cpu"
    assert result.seconds > 0


def test_cpu_training_is_deterministic_for_a_seed() -> None:
    graph = edge_index(two_clusters(6))
    first = train_embeddings(graph, 12, FAST, device="cpu")
    again = train_embeddings(graph, 12, FAST, device="cpu")
    other = train_embeddings(graph, 12, replace(FAST, seed=8), device="cpu")
    assert torch.equal(first.embeddings, again.embeddings)
    assert first.final_loss == again.final_loss
    assert not torch.equal(first.embeddings, other.embeddings)


def test_loss_falls_and_clusters_separate() -> None:
    reports: list[EpochReport] = []
    result = train_embeddings(
        edge_index(two_clusters(10)),
        20,
        TrainConfig(seed=1),
        device="cpu",
        on_epoch=reports.append,
    )
    assert [r.epoch for r in reports] == list(range(1, 11))
    assert reports[-1].loss < reports[0].loss
    assert result.final_loss == reports[-1].loss
    assert all(r.walks_per_second > 0 and r.eta_seconds >= 0 for r in reports)
    assert reports[-1].eta_seconds == 0

    z = torch.nn.functional.normalize(result.embeddings, dim=1)
    cosine = z @ z.t()
    same = torch.block_diag(torch.ones(10, 10), torch.ones(10, 10)).bool()
    off_diagonal = ~torch.eye(20, dtype=torch.bool)
    within = cosine[same & off_diagonal].mean()
    across = cosine[~same].mean()
    assert within > across + 0.5


def test_isolated_nodes_and_edgeless_graphs_still_get_embeddings() -> None:
    with_isolated = train_embeddings(edge_index([(0, 1), (1, 2)]), 6, FAST, device="cpu")
    no_edges = train_embeddings(edge_index([]), 4, FAST, device="cpu")
    single = train_embeddings(edge_index([]), 1, FAST, device="cpu")
    for result, n in ((with_isolated, 6), (no_edges, 4), (single, 1)):
        assert result.embeddings.shape == (n, 64)
        assert torch.isfinite(result.embeddings).all()


def test_self_loops_and_duplicate_edges_are_harmless() -> None:
    result = train_embeddings(edge_index([(0, 0), (0, 1), (0, 1), (1, 0)]), 2, FAST, device="cpu")
    assert result.embeddings.shape == (2, 64)


def test_should_stop_cancels_between_batches() -> None:
    calls = 0

    def stop_on_third_batch() -> bool:
        nonlocal calls
        calls += 1
        return calls >= 3

    with pytest.raises(TrainingCancelled):
        train_embeddings(
            edge_index(two_clusters(20)), 40, FAST, device="cpu", should_stop=stop_on_third_batch
        )
    assert calls == 3


def test_loss_is_logged_every_five_epochs(caplog: pytest.LogCaptureFixture) -> None:
    config = replace(FAST, epochs=10)
    with caplog.at_level(logging.INFO, logger="services.embedder.train"):
        train_embeddings(edge_index(two_clusters(3)), 6, config, device="cpu")
    epochs = [r.getMessage().split()[1] for r in caplog.records if "loss" in r.getMessage()]
    assert epochs == ["5/10", "10/10"]


def test_cuda_oom_halves_the_batch_then_falls_back_to_cpu(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    attempts: list[tuple[str, int]] = []

    def fake_fit(edges, num_nodes, params, device, batch_size, *rest):  # type: ignore[no-untyped-def]
        attempts.append((device.type, batch_size))
        if device.type == "cuda":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return torch.zeros(num_nodes, params.embedding_dim), 0.5

    monkeypatch.setattr(train_module, "resolve_device", lambda _: torch.device("cuda", 0))
    monkeypatch.setattr(train_module, "_fit", fake_fit)
    with caplog.at_level(logging.WARNING, logger="services.embedder.train"):
        result = train_embeddings(edge_index([(0, 1)]), 1000, FAST, device="cuda")

    # 1,000 nodes: at least 32 batches an epoch, so 32 start nodes per batch
    assert attempts == [("cuda", 32), ("cuda", 16), ("cuda", 8), ("cpu", 32)]
    assert result.device == "cpu"
    assert sum("batch size" in r.getMessage() for r in caplog.records) == 2
    assert any("falling back to the CPU" in r.getMessage() for r in caplog.records)


def test_cpu_is_described_and_missing_cuda_is_refused() -> None:
    assert "cores" in describe_hardware("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceUnavailable):
            resolve_device("cuda")
        assert resolve_device("auto") == torch.device("cpu")
