"""services.embedder.pyg: PyG's unused heavy parts load only when something uses them."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_training_leaves_the_deferred_modules_unexecuted() -> None:
    out = _run(
        """
        import importlib.util, sys, torch
        from services.embedder.pyg import DEFERRED
        from services.embedder.train import TrainConfig, train_embeddings
        edges = torch.tensor([[0, 1, 2], [1, 2, 0]])
        result = train_embeddings(edges, 4, TrainConfig(epochs=1, seed=0), device="cpu")
        assert result.embeddings.shape == (4, 64)
        lazy = importlib.util._LazyModule  # the class of a module not yet executed
        ran = [n for n in DEFERRED if n in sys.modules and not isinstance(sys.modules[n], lazy)]
        print(sorted(ran))
        print(isinstance(sys.modules["torch._dynamo"], lazy))
        print([type(f).__name__ for f in sys.meta_path])
        """
    ).splitlines()
    assert out[0] == "[]"  # none of them ran (numba is in sys.modules only where installed)
    assert out[1] == "True"  # torch_geometric did import torch._dynamo, lazily
    assert "_DeferringFinder" not in out[2]  # only PyG's own import went through it


def test_a_deferred_module_works_in_full_on_first_use() -> None:
    out = _run(
        """
        import torch
        import services.embedder.pyg
        import torch_geometric
        from torch_geometric.datasets import KarateClub
        compiled = torch.compile(torch.nn.Linear(2, 2))  # compiles on first call only
        print(torch_geometric.is_torch_instance(compiled, torch.nn.Linear))
        print(KarateClub()[0].num_nodes)
        """
    )
    assert out.splitlines() == ["True", "34"]
