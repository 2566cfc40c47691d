"""Warm start: a commit whose graph changed little trains from the previous commit's vectors.

The previous vectors are the repository's points of the index the job found sealed
with its own fingerprint (same code, same parameters), read back by file path
(`services.common.vectors.previous_structure`). When the files they cover are at
least `min_kept` of the files of either commit (the files of both over those of
either), each kept file starts from its vector and the training runs `epochs` epochs
at the embedder's warm learning rate; new files start at random. Otherwise, and on a
first or forced ingest, training starts from scratch. The same previous vectors, graph
and seed train to the same vectors. The `ALEXANDRIA_TRAIN_WARM_*` settings are not in
the fingerprint: they decide where a new commit's training starts, so turning them on
or off leaves the index as it is.

benchmarks/warm_start.py measured it on click and sympy (benchmarks/README.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from services.embedder.client import Initial


@dataclass(frozen=True)
class WarmStart:
    """When and how a job warm-starts (`ALEXANDRIA_TRAIN_WARM_*`)."""

    min_kept: float  # share of the files of both commits that both have
    epochs: int  # epochs of a warm training


def kept_share(paths: Sequence[str], previous: Mapping[str, object]) -> float:
    """The files in both `paths` and `previous` over the files in either."""
    either = len(set(paths) | previous.keys())
    return sum(path in previous for path in set(paths)) / either if either else 0.0


def initial_vectors(
    paths: Sequence[str], previous: Mapping[str, Sequence[float]], min_kept: float
) -> Initial | None:
    """Node ids (indices into `paths`) and the vectors they start from, or None when
    fewer than `min_kept` of the files are kept (`kept_share`)."""
    if not previous or kept_share(paths, previous) < min_kept:
        return None
    nodes = [i for i, path in enumerate(paths) if path in previous]
    rows = np.array([previous[paths[i]] for i in nodes], dtype=np.float32)
    return np.array(nodes, dtype=np.int32), rows
