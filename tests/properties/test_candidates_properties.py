"""Properties of the stored candidates: each file's structure top-k is a brute-force
sort of its cosines, and its identifier top-k a brute-force sort of its dot products,
whatever the block and group sizes (small integer vectors: many exact ties and zero rows)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from services.ingest import candidates

EXAMPLES = settings(max_examples=150, deadline=None)


@st.composite
def matrices(draw: st.DrawFn) -> np.ndarray:
    n = draw(st.integers(1, 60))
    d = draw(st.integers(1, 5))
    cells = draw(st.lists(st.integers(-3, 3), min_size=n * d, max_size=n * d))
    return np.array(cells, dtype=np.float64).reshape(n, d)


@EXAMPLES
@given(
    matrices(),
    st.integers(1, 12),
    st.sampled_from([1, 13, 500, 2_000_000]),
    st.sampled_from([1, 2, 16]),  # 1 and 2: wide enough rows go through the groups
)
def test_structure_top_k_is_a_brute_force_sort(
    embeddings: np.ndarray, k: int, block_scores: int, group: int
) -> None:
    unit = candidates.unit_rows(embeddings)
    cosines = unit @ unit.T  # one product for all rows, as a brute force would
    n = len(embeddings)
    default, candidates.GROUP = candidates.GROUP, group
    try:
        top = candidates.structure_neighbours(embeddings, k, block_scores=block_scores)
    finally:
        candidates.GROUP = default
    assert top.shape == (n, min(k, n - 1))
    for i in range(n):
        row = top[i].tolist()
        assert i not in row and len(set(row)) == len(row)
        expected = sorted((j for j in range(n) if j != i), key=lambda j: (-cosines[i, j], j))
        # the same scores in the same order; the same files wherever scores differ
        assert np.allclose(cosines[i, row], cosines[i, expected[: len(row)]], atol=1e-6)
        if not any(
            np.isclose(cosines[i, row[-1]], cosines[i, j], atol=1e-6) for j in expected[len(row) :]
        ):
            assert set(row) == set(expected[: len(row)])


@EXAMPLES
@given(
    st.lists(
        st.dictionaries(st.integers(0, 12), st.sampled_from([0.25, 0.5, 1.0]), max_size=5),
        min_size=1,
        max_size=40,
    ),
    st.integers(1, 10),
    st.sampled_from([1, 17, 2_000_000]),
)
def test_identifier_top_k_is_a_brute_force_sort(
    weights: list[dict[int, float]], k: int, block_scores: int
) -> None:
    found = candidates.identifier_neighbours(
        weights, k, block_scores=block_scores, block_additions=block_scores
    )
    assert len(found) == len(weights)
    for i, row in enumerate(found):
        dots = [sum(v * w.get(t, 0.0) for t, v in weights[i].items()) for w in weights]
        expected = sorted(
            (j for j in range(len(weights)) if j != i and dots[j] > 0), key=lambda j: (-dots[j], j)
        )
        assert row.tolist() == expected[:k]  # dyadic weights: the sums are exact
