"""services/ingest/warm_start.py: which files start from the previous vectors, and when."""

from __future__ import annotations

import numpy as np

from services.ingest.warm_start import initial_vectors, kept_share

PREVIOUS = {f"f{i}.py": [float(i)] * 4 for i in range(10)}


def test_kept_share_counts_the_files_of_either_commit() -> None:
    assert kept_share(list(PREVIOUS), PREVIOUS) == 1.0
    assert kept_share([*PREVIOUS, "new.py"], PREVIOUS) == 10 / 11
    assert kept_share(["f0.py", "f1.py"], PREVIOUS) == 2 / 10  # eight files deleted
    assert kept_share([], {}) == 0.0


def test_kept_files_start_from_their_vectors_new_ones_are_left_out() -> None:
    paths = ["new.py", *PREVIOUS]
    found = initial_vectors(paths, PREVIOUS, 0.9)
    assert found is not None
    nodes, rows = found
    assert nodes.tolist() == list(range(1, 11))
    assert rows.dtype == np.float32 and rows.shape == (10, 4)
    assert rows[:, 0].tolist() == [float(i) for i in range(10)]


def test_no_warm_start_below_the_share_or_without_previous_vectors() -> None:
    paths = [*PREVIOUS, "a.py", "b.py"]  # 10 of 12 kept
    assert initial_vectors(paths, PREVIOUS, 0.9) is None
    assert initial_vectors(paths, PREVIOUS, 0.8) is not None
    assert initial_vectors(list(PREVIOUS), {}, 0.5) is None
