"""Hybrid `similar`'s stored candidates in a point's payload, packed.

A file's candidates (services/ingest/candidates.py: ~100 for sympy, at most 320) were
three JSON lists, paths and two lists of cosines: 5.6 KB of a sympy point's 7.3 KB of
payload, and ~200 floats that Qdrant's local engine encodes to JSON, decodes and
pickles for every point it stores. They are now:

- `candidate_paths`: the paths joined by NUL (a git path never holds one);
- `candidate_scores`: base64 of little-endian int32, every candidate's structure cosine
  in millionths, then every one's identifier cosine. The job rounds both to 6
  decimals, and `n / 1e6` is exactly the float that rounding gave (both are the double
  nearest the same decimal), so the ranking reads the same numbers as before;
- `imported_by`: those of them importing the point's file, a list of paths.

Points written before (`candidates`, `candidate_structure`, `candidate_text`, JSON
lists) are still read. The new fields have new names so that a gateway of an earlier
release, reading a point written by this one, finds no candidates and gathers them
itself (as for any point without them) instead of misreading them.
"""

from __future__ import annotations

import array
import base64
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

SCALE = 1_000_000
"""Stored cosines are integers of millionths (they are rounded to 6 decimals)."""
NEGATIVE_ZERO = -(2**31)
"""-0.0, which rounding a tiny negative cosine gives (and the answers show as -0.0)."""
SEPARATOR = "\0"


@dataclass(frozen=True)
class Candidates:
    """The files that hybrid `similar` ranks for a point's file, with what the job
    measured between their vectors (services/ingest/candidates.py); parallel lists."""

    paths: Sequence[str]
    structure: Sequence[float]  # cosine of the structure embeddings, 6 decimals
    text: Sequence[float]  # cosine of the identifier vectors, 6 decimals
    imported_by: Sequence[str]  # those of `paths` importing the point's file


def pack_scores(values: Sequence[float]) -> str:
    """`values` (each in [-1, 1]) in millionths, nearest, as base64 of little-endian int32."""
    import numpy as np  # the edge packs; the gateway only unpacks, without numpy

    scaled = np.rint(np.asarray(values, dtype=np.float64) * SCALE)
    micro = np.where((scaled == 0) & np.signbit(scaled), NEGATIVE_ZERO, scaled).astype("<i4")
    return base64.b64encode(micro.tobytes()).decode("ascii")


def unpack_scores(packed: str) -> list[float]:
    """What `pack_scores` packed, each value `n / 1e6` (-0.0 kept)."""
    micro = array.array("i", base64.b64decode(packed))
    if sys.byteorder == "big":
        micro.byteswap()
    return [n / SCALE if n != NEGATIVE_ZERO else -0.0 for n in micro]


def encode(candidates: Candidates) -> dict[str, Any]:
    """The payload fields of `candidates`."""
    return {
        "candidate_paths": SEPARATOR.join(candidates.paths),
        "candidate_scores": pack_scores([*candidates.structure, *candidates.text]),
        "imported_by": list(candidates.imported_by),
    }


def decode(payload: dict[str, Any]) -> Candidates | None:
    """The candidates a payload holds, packed or as lists; None when it has none."""
    imported_by = tuple(payload.get("imported_by") or ())
    if "candidate_paths" in payload:
        joined = payload["candidate_paths"]
        paths = tuple(joined.split(SEPARATOR)) if joined else ()
        scores = unpack_scores(payload["candidate_scores"])
        if len(scores) != 2 * len(paths):
            raise ValueError(f"{len(paths)} candidates with {len(scores)} scores")
        return Candidates(
            paths, tuple(scores[: len(paths)]), tuple(scores[len(paths) :]), imported_by
        )
    if "candidates" in payload:  # written before the fields were packed
        return Candidates(
            tuple(payload["candidates"]),
            tuple(payload["candidate_structure"]),
            tuple(payload["candidate_text"]),
            imported_by,
        )
    return None
