"""Training on a real GPU: the result, a real out-of-memory (smaller batches, then the
CPU) and cancellation giving the GPU's memory back. Skipped without CUDA (CI has none);
`benchmarks/gpu_check.sh` runs these on a GPU machine."""

from __future__ import annotations

import gc
import logging

import pytest
import torch

from services.embedder.train import TrainConfig, TrainingCancelled, train_embeddings

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
SMALL = TrainConfig(epochs=2, walks_per_node=2, walk_length=8, context_size=4, seed=0)


def random_graph(num_nodes: int, edges_per_node: int = 4) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    src = torch.arange(num_nodes).repeat_interleave(edges_per_node)
    dst = torch.randint(num_nodes, (num_nodes * edges_per_node,), generator=generator)
    return torch.stack([src, dst])


def peak_bytes(graph: torch.Tensor, num_nodes: int, config: TrainConfig) -> int:
    """GPU memory a run takes above what was allocated before it."""
    gc.collect()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    train_embeddings(graph, num_nodes, config, device="cuda")
    return torch.cuda.max_memory_allocated() - before


@pytest.fixture
def memory_limit() -> object:
    """Set the process's share of the GPU with `limit(bytes)`; restored afterwards."""
    total = torch.cuda.get_device_properties(0).total_memory

    def limit(nbytes: float) -> None:
        gc.collect()
        torch.cuda.empty_cache()
        torch.cuda.set_per_process_memory_fraction(min(1.0, nbytes / total))

    yield limit
    torch.cuda.set_per_process_memory_fraction(1.0)
    torch.cuda.empty_cache()


def test_cuda_training_returns_a_cpu_float32_tensor_per_node() -> None:
    result = train_embeddings(random_graph(5000), 5001, SMALL, device="cuda")
    assert result.device.startswith("cuda")
    assert result.embeddings.device.type == "cpu" and result.embeddings.dtype == torch.float32
    assert result.embeddings.shape == (5001, 64) and torch.isfinite(result.embeddings).all()


def test_a_real_out_of_memory_halves_the_batch_and_stays_on_the_gpu(
    memory_limit, caplog: pytest.LogCaptureFixture
) -> None:
    n, graph = 100_000, random_graph(100_000)
    big = TrainConfig(**{**SMALL.__dict__, "batch_size": 2048})
    small = TrainConfig(**{**SMALL.__dict__, "batch_size": 64})
    full, least = peak_bytes(graph, n, big), peak_bytes(graph, n, small)
    assert full > 1.5 * least, (full, least)
    memory_limit(torch.cuda.memory_allocated() + (full + least) / 2)
    with caplog.at_level(logging.WARNING, logger="services.embedder.train"):
        result = train_embeddings(graph, n, big, device="cuda")
    messages = [r.getMessage() for r in caplog.records]
    assert result.device.startswith("cuda"), messages
    assert any("retrying with batch size" in m for m in messages), messages
    print(f"peak {full / 2**20:.0f} MiB at batch 2048, {least / 2**20:.0f} MiB at 64; {messages}")


def test_when_even_the_smallest_batch_does_not_fit_training_moves_to_the_cpu(
    memory_limit, caplog: pytest.LogCaptureFixture
) -> None:
    memory_limit(torch.cuda.memory_allocated() + (1 << 20))  # 1 MiB: not even the tables
    with caplog.at_level(logging.WARNING, logger="services.embedder.train"):
        result = train_embeddings(random_graph(20_000), 20_000, SMALL, device="cuda")
    assert result.device == "cpu" and result.embeddings.shape == (20_000, 64)
    assert any("falling back to the CPU" in r.getMessage() for r in caplog.records)


def test_cancelling_stops_at_once_and_gives_the_memory_back() -> None:
    gc.collect()
    torch.cuda.empty_cache()
    allocated, reserved = torch.cuda.memory_allocated(), torch.cuda.memory_reserved()
    seen: list[int] = []
    config = TrainConfig(**{**SMALL.__dict__, "epochs": 50})
    with pytest.raises(TrainingCancelled):
        train_embeddings(
            random_graph(50_000),
            50_000,
            config,
            device="cuda",
            on_epoch=lambda report: seen.append(report.epoch),
            should_stop=lambda: len(seen) >= 1,
        )
    gc.collect()
    assert seen == [1]  # stopped within the epoch after the request
    assert torch.cuda.memory_allocated() == allocated
    assert torch.cuda.memory_reserved() <= reserved
