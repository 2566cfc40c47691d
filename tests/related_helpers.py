"""A small hand-made repository whose related files are known in each mode, for the
`similar` / `search` tests on both Qdrant backends."""

from __future__ import annotations

import math

from services.common.vectors import FileVector, Partner

REPO = "https://github.com/known/answers"
OTHER_REPO = "https://github.com/known/elsewhere"
COMMIT = "c0ffee0000000000000000000000000000000000"
HISTORY = "120 commits"
QUERY = "pkg/core/session.py"
ALWAYS_TOGETHER = "pkg/util/log.py"  # changed in every commit with QUERY
ONCE_TOGETHER = "pkg/core/models.py"  # changed once with QUERY; QUERY imports it
RARE_WORDS = "pkg/other/frobnicator.py"  # shares QUERY's rare identifiers
LAST_CHANGED = 1_764_000_000  # 2025-11-24T16:00:00Z


def _unit(*pairs: tuple[int, float]) -> list[float]:
    vector = [0.0] * 64
    for dim, value in pairs:
        vector[dim] = value
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector]


def _terms(*pairs: tuple[str, float]) -> list[tuple[str, float]]:
    norm = math.sqrt(sum(w * w for _, w in pairs))
    return [(t, w / norm) for t, w in pairs]


COMMON = ("self", 0.1)  # in every file: a weak term


def known_files() -> list[FileVector]:
    """The query, its history partners, a rare-identifier twin, structural neighbours."""
    return [
        FileVector(
            QUERY,
            "python",
            _unit((0, 1.0)),
            imports=[ONCE_TOGETHER],
            terms=_terms(("frobnicate", 0.8), ("widget", 0.5), ("session", 0.3), COMMON),
            cochange=[
                Partner(ALWAYS_TOGETHER, 4.0, 8, LAST_CHANGED),
                Partner(ONCE_TOGETHER, 0.5, 1, LAST_CHANGED - 86_400),
            ],
        ),
        FileVector(
            ALWAYS_TOGETHER,
            "python",
            _unit((3, 1.0)),
            terms=_terms(("logger", 0.9), COMMON),
            cochange=[Partner(QUERY, 4.0, 8, LAST_CHANGED)],
        ),
        FileVector(
            ONCE_TOGETHER,
            "python",
            _unit((0, 0.3), (1, 1.0)),
            terms=_terms(("model", 0.9), ("session", 0.1), COMMON),
            cochange=[Partner(QUERY, 0.5, 1, LAST_CHANGED - 86_400)],
        ),
        FileVector(
            RARE_WORDS,
            "python",
            _unit((2, 1.0)),
            terms=_terms(("frobnicate", 0.9), ("widget", 0.4), COMMON),
        ),
        FileVector("pkg/core/twin.py", "python", _unit((0, 1.0), (1, 0.1)), terms=[COMMON]),
        FileVector("pkg/core/near.py", "python", _unit((0, 1.0), (4, 0.6)), terms=[COMMON]),
        FileVector("pkg/other/far.py", "python", _unit((5, 1.0)), terms=_terms(("session", 1.0))),
        FileVector("docs/conf.py", "python", _unit((0, -1.0), (6, 0.2))),  # no terms
    ]


def elsewhere_files() -> list[FileVector]:
    """Another repository with a file structurally identical to QUERY."""
    return [FileVector(QUERY, "python", _unit((0, 1.0)), terms=_terms(("frobnicate", 1.0)))]


def plain_cosine_order() -> list[str]:
    """The repository's other files by cosine to QUERY, ties by path."""
    files = known_files()
    query = next(f for f in files if f.file_path == QUERY)

    def cos(f: FileVector) -> float:
        return sum(a * b for a, b in zip(query.vector, f.vector, strict=True))

    others = [f for f in files if f.file_path != QUERY]
    return [f.file_path for f in sorted(others, key=lambda f: (-cos(f), f.file_path))]
