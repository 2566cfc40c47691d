"""The PyTorch Geometric functions the embedder uses, imported without PyG's unused weight.

`import torch_geometric` imports the whole library. Three parts of it cost most of that
time and never run here, so they are loaded lazily (`importlib.util.LazyLoader`: the
module is executed on its first attribute access, so anything that does use them still
gets them in full):

- `torch._dynamo`, which `torch_geometric.isinstance` imports only to unwrap models
  compiled with `torch.compile`;
- `torch_geometric.datasets` (dataset downloaders, with `requests`);
- `numba`, where installed, which `torch_geometric.utils.ppr` uses only in `get_ppr`.

Importing the embedder took 7.5-8.4 s before and 3.1-4.0 s after on 2 CPU cores
(torch alone: 3.2-3.7 s), 6.3-8.8 s and 2.6-3.2 s on an H100 machine
(benchmarks/README.md, "Start-up").
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from types import ModuleType

DEFERRED = frozenset({"torch._dynamo", "torch_geometric.datasets", "numba"})


class _DeferringFinder(importlib.abc.MetaPathFinder):
    """Finds the DEFERRED modules as the path finder does, with a lazy loader."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in DEFERRED:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is not None and spec.loader is not None:
            spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


_finder = _DeferringFinder()
sys.meta_path.insert(0, _finder)
try:
    from torch_geometric.index import index2ptr
    from torch_geometric.utils import remove_self_loops, to_undirected
finally:
    sys.meta_path.remove(_finder)

__all__ = ["index2ptr", "remove_self_loops", "to_undirected"]
