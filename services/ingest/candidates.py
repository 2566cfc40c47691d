"""Each file's bounded candidate list for hybrid `similar`, computed once per job.

The hybrid ranking (gateway/ranking.py) fuses every signal over a bounded set of
candidates. Gathering that set per request took five Qdrant reads (a dense and a sparse
query, a retrieve, two filtered scrolls), and Qdrant's embedded engine scores in Python:
245 ms a request at 1,600 files. The job computes the set here instead, with the
cosines the ranking needs, and stores it in each point's payload; hybrid `similar`
then ranks from the queried point alone and reads only the files it returns
(gateway/routes/graph.py, `similar_files`).

A file's candidates, deduplicated, never the file itself:

- the `STRUCTURE_TOP` nearest by cosine of the structure embeddings (what Qdrant's dense
  query over the repository returns), scored in row blocks of at most `BLOCK_SCORES`
  pairs, so 20,000 files take a few tens of MB;
- the `IDENTIFIER_TOP` nearest by the dot product of the identifier vectors (Qdrant's
  sparse query; the weights are L2-normalised, so it is their cosine), only those
  sharing a token, over an inverted index that skips every token held by more than
  `POSTINGS_CAP` files: such a token is in most files' vocabulary, weighs little after
  idf, and its postings would cost the square of their length;
- up to `IMPORTERS_MAX` files importing it and up to `DIRECTORY_MAX` other files of its
  directory, the first by point id: the order of a Qdrant scroll, so the same files
  that `similar`'s filtered scrolls returned before;
- the first `vectors.IMPORTS_MAX` files it imports and its stored co-change partners.

Each candidate carries what the ranking measures between two files' vectors, so that
`similar` need not read them: the exact cosine of the structure embeddings and of the
identifier vectors (every token counts here, cap or not), and whether the candidate
imports the file.

Ties are broken by file index (the order of the graph's nodes). numpy only: this runs
in the coordinator, which in LOCAL mode is the gateway's own process.
"""

from __future__ import annotations

import array
import dataclasses
import itertools
from collections.abc import Mapping, Sequence

import numpy as np

from services.common import vectors

STRUCTURE_TOP = vectors.STRUCTURE_TOP
IDENTIFIER_TOP = vectors.IDENTIFIER_TOP
IMPORTERS_MAX = vectors.IMPORTERS_MAX
DIRECTORY_MAX = vectors.DIRECTORY_MAX
POSTINGS_CAP = 1000
"""A token held by more files than this adds nothing to the identifier candidates; it
bounds the identifier pass at `POSTINGS_CAP` x (all the files' terms) score additions."""
GROUP = 16
"""Columns per group when picking a wide row's largest (see `_largest`)."""
BLOCK_SCORES = 2_000_000
"""The most pairwise scores held at once (rows x files, 4 or 8 bytes each)."""
BLOCK_ADDITIONS = 500_000
"""The most identifier score additions expanded at once (~50 bytes each, all arrays)."""


def unit_rows(embeddings: np.ndarray, dtype: type[np.floating] = np.float32) -> np.ndarray:
    """The rows scaled to unit length (float32 unless told); a zero row stays zero."""
    rows = np.asarray(embeddings, dtype=dtype)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)


def _largest(scores: np.ndarray, k: int) -> np.ndarray:
    """(rows, k) columns holding each row's k largest scores, in no order (0 < k < columns).

    The columns of a wide row are first dealt into groups of `GROUP` (column j + i x
    groups for i < GROUP): the k groups of largest maximum hold a k largest (any group
    with a larger maximum is among them), so only those are partitioned."""
    rows, columns = scores.shape
    groups = columns // GROUP
    if groups < 4 * k:
        return np.argpartition(scores, columns - k, axis=1)[:, columns - k :]
    maxima = scores[:, : groups * GROUP].reshape(rows, GROUP, groups).max(axis=1)
    best = np.argpartition(maxima, groups - k, axis=1)[:, groups - k :]
    within = (best[:, :, None] + groups * np.arange(GROUP)).reshape(rows, k * GROUP)
    rest = np.broadcast_to(np.arange(groups * GROUP, columns), (rows, columns - groups * GROUP))
    pool = np.concatenate((within, rest), axis=1)
    values = np.take_along_axis(scores, pool, axis=1)
    keep = np.argpartition(values, pool.shape[1] - k, axis=1)[:, pool.shape[1] - k :]
    return np.take_along_axis(pool, keep, axis=1)


def top_columns(scores: np.ndarray, k: int, *, floor: float = -np.inf) -> np.ndarray:
    """Each row's `min(k, columns)` largest columns, by (score descending, column).

    Exact under ties: a row whose k-th score (above `floor`) is shared by a column left
    out is sorted in full. Columns scoring at most `floor` may come last in any order."""
    rows, columns = scores.shape
    k = min(k, columns)
    if k <= 0:
        return np.empty((rows, 0), dtype=np.int64)
    if k < columns:
        picked = _largest(scores, k)
    else:
        picked = np.broadcast_to(np.arange(columns), (rows, columns))
    values = np.take_along_axis(scores, picked, axis=1)
    order = np.lexsort((picked, -values), axis=1)
    top = np.take_along_axis(picked, order, axis=1).astype(np.int64)
    if k < columns:
        kth = np.take_along_axis(scores, top[:, -1:], axis=1)
        shared = np.count_nonzero(scores == kth, axis=1)
        kept = np.count_nonzero(values == kth, axis=1)
        for r in np.flatnonzero((shared > kept) & (kth[:, 0] > floor)):
            top[r] = np.lexsort((np.arange(columns), -scores[r]))[:k]
    return top


def structure_neighbours(
    embeddings: np.ndarray, k: int = STRUCTURE_TOP, *, block_scores: int = BLOCK_SCORES
) -> np.ndarray:
    """(files, min(k, files - 1)): each file's nearest other files by cosine, best first."""
    unit = unit_rows(embeddings)
    n = unit.shape[0]
    k = min(k, n - 1)
    out = np.empty((n, max(k, 0)), dtype=np.int64)
    if k <= 0:
        return out
    step = max(1, block_scores // n)
    for start in range(0, n, step):
        stop = min(n, start + step)
        scores = unit[start:stop] @ unit.T
        scores[np.arange(stop - start), np.arange(start, stop)] = -np.inf
        out[start:stop] = top_columns(scores, k)
    return out


def _entries(weights: Sequence[Mapping[int, float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sparse vectors' entries, by file then token: (file, token, weight), the
    tokens numbered 0..distinct-1."""
    lengths = np.fromiter((len(w) for w in weights), dtype=np.int64, count=len(weights))
    total = int(lengths.sum())
    rows = np.repeat(np.arange(len(weights), dtype=np.int64), lengths)
    keys = np.fromiter(itertools.chain.from_iterable(weights), dtype=np.int64, count=total)
    values = np.fromiter(
        itertools.chain.from_iterable(w.values() for w in weights), dtype=np.float64, count=total
    )
    _, tokens = np.unique(keys, return_inverse=True)
    return rows, tokens.reshape(-1), values


def identifier_neighbours(
    weights: Sequence[Mapping[int, float]],
    k: int = IDENTIFIER_TOP,
    *,
    postings_cap: int = POSTINGS_CAP,
    block_scores: int = BLOCK_SCORES,
    block_additions: int = BLOCK_ADDITIONS,
) -> list[np.ndarray]:
    """Each file's up to `k` other files of largest positive identifier dot product, best
    first, counting only the tokens held by at most `postings_cap` files.

    `weights[i]`: file i's sparse vector (token index -> weight), as stored in Qdrant."""
    n = len(weights)
    rows, tokens, values = _entries(weights)
    held = np.bincount(tokens) if tokens.size else np.zeros(0, dtype=np.int64)
    keep = held[tokens] <= postings_cap
    rows, tokens, values = rows[keep], tokens[keep], values[keep]
    held = np.where(held <= postings_cap, held, 0)
    # The postings of each kept token: the files holding it and their weights.
    by_token = np.argsort(tokens, kind="stable")
    posting_file, posting_value = rows[by_token], values[by_token]
    posting_start = np.concatenate(([0], np.cumsum(held)))
    fanout = held[tokens]  # the score additions each (file, token) entry makes
    entry_start = np.searchsorted(rows, np.arange(n + 1))
    cost = np.concatenate(([0], np.cumsum(np.bincount(rows, weights=fanout, minlength=n))))
    found: list[np.ndarray] = []
    start = 0
    while start < n:
        # As many rows as the score matrix's and the additions' budgets allow.
        by_rows = start + max(1, block_scores // max(n, 1))
        by_cost = int(np.searchsorted(cost, cost[start] + block_additions, side="right")) - 1
        stop = min(n, by_rows, max(start + 1, by_cost))
        first, last = entry_start[start], entry_start[stop]
        fan = fanout[first:last]
        entry = np.repeat(np.arange(first, last), fan)
        offset = np.arange(entry.size) - np.repeat(np.cumsum(fan) - fan, fan)
        posting = posting_start[tokens[entry]] + offset
        flat = (rows[entry] - start) * n + posting_file[posting]
        scores = np.bincount(
            flat, weights=values[entry] * posting_value[posting], minlength=(stop - start) * n
        ).reshape(stop - start, n)
        scores[np.arange(stop - start), np.arange(start, stop)] = 0.0
        top = top_columns(scores, k, floor=0.0)
        positive = np.take_along_axis(scores, top, axis=1) > 0
        found.extend(row[keep_row] for row, keep_row in zip(top, positive, strict=True))
        start = stop
    return found


def structure_cosines(embeddings: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The cosine of the structure embeddings of each pair (left[p], right[p]), in
    float64 as the gateway computes it from the stored vectors."""
    unit = unit_rows(embeddings, np.float64)
    out = np.empty(left.size)
    step = max(1, BLOCK_SCORES // max(unit.shape[1], 1))
    for start in range(0, left.size, step):
        pairs = slice(start, start + step)
        out[pairs] = np.einsum("pd,pd->p", unit[left[pairs]], unit[right[pairs]])
    return out


def identifier_cosines(
    weights: Sequence[Mapping[int, float]],
    left: np.ndarray,
    right: np.ndarray,
    *,
    block_scores: int = BLOCK_SCORES,
) -> np.ndarray:
    """The cosine of the identifier vectors of each pair (left[p], right[p]), every
    token counted; 0 for a file without any. The left files' vectors are spread, a row
    block at a time, over the repository's vocabulary, and each right file's entries
    look their token up there."""
    rows, tokens, values = _entries(weights)
    n = len(weights)
    vocabulary = int(tokens.max()) + 1 if tokens.size else 1
    norms = np.sqrt(np.bincount(rows, weights=values * values, minlength=n))
    entry_start = np.searchsorted(rows, np.arange(n + 1))
    order = np.argsort(left, kind="stable")
    left_sorted = left[order]
    dots = np.zeros(left.size)
    step = max(1, block_scores // vocabulary)
    dense = np.zeros((min(step, n), vocabulary))  # reused: only the entries set are reset
    for first in range(0, n, step):
        last = min(n, first + step)
        lo, hi = np.searchsorted(left_sorted, [first, last])
        if lo == hi:
            continue
        spread = slice(entry_start[first], entry_start[last])
        dense[rows[spread] - first, tokens[spread]] = values[spread]
        pairs = order[lo:hi]
        starts = entry_start[right[pairs]]
        lengths = entry_start[right[pairs] + 1] - starts
        offset = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        entry = np.repeat(starts, lengths) + offset
        products = dense[np.repeat(left[pairs] - first, lengths), tokens[entry]] * values[entry]
        dots[pairs] = np.bincount(
            np.repeat(np.arange(pairs.size), lengths), weights=products, minlength=pairs.size
        )
        dense[rows[spread] - first, tokens[spread]] = 0.0
    scale = norms[left] * norms[right]
    return np.divide(dots, scale, out=np.zeros_like(dots), where=scale > 0)


def file_candidates(
    *,
    repo_url: str,
    paths: Sequence[str],
    embeddings: np.ndarray,
    terms: Sequence[Sequence[tuple[str, float]]],
    imports: Sequence[Sequence[str]],
    partners: Sequence[Sequence[str]],
    postings_cap: int = POSTINGS_CAP,
    structure_top: int = STRUCTURE_TOP,
) -> list[vectors.Candidates]:
    """Each file's candidates, measured (module docstring), in the order of `paths`.

    `terms`, `imports`, `partners`: per file, as stored in its point (identifier terms,
    imported paths in payload order, co-change partners' paths); indexed like `paths`."""
    n = len(paths)
    index = {path: i for i, path in enumerate(paths)}
    ids = [vectors.point_id(repo_url, path) for path in paths]
    by_id = sorted(range(n), key=ids.__getitem__)
    importers: list[list[int]] = [[] for _ in range(n)]
    directories: dict[str, list[int]] = {}
    for i in by_id:  # so each list is in point-id order
        directories.setdefault(vectors.parent_dir(paths[i]), []).append(i)
        for target in dict.fromkeys(imports[i]):
            j = index.get(target)
            if j is not None and j != i:
                importers[j].append(i)
    structure = (
        structure_neighbours(embeddings, structure_top) if n else np.empty((0, 0), dtype=np.int64)
    )
    weights = [vectors.term_weights(t) for t in terms]
    identifiers = identifier_neighbours(weights, postings_cap=postings_cap)
    picked: list[np.ndarray] = []
    for i, path in enumerate(paths):
        members = directories[vectors.parent_dir(path)][: DIRECTORY_MAX + 1]
        linked = [*imports[i][: vectors.IMPORTS_MAX], *partners[i]]
        chosen = itertools.chain(
            structure[i].tolist(),
            identifiers[i].tolist(),
            importers[i][:IMPORTERS_MAX],
            [j for j in members if j != i][:DIRECTORY_MAX],
            (index[p] for p in linked if p in index),
        )
        picked.append(np.fromiter((j for j in dict.fromkeys(chosen) if j != i), dtype=np.int64))
    left = np.repeat(np.arange(n, dtype=np.int64), [p.size for p in picked])
    right = np.concatenate(picked) if picked else left
    cosines = np.round(structure_cosines(embeddings, left, right), 6)
    texts = np.round(identifier_cosines(weights, left, right), 6)
    out: list[vectors.Candidates] = []
    at = 0
    for i, chosen_i in enumerate(picked):
        importing = set(importers[i])
        end = at + chosen_i.size
        rows = chosen_i.tolist()
        out.append(
            vectors.Candidates(
                paths=[paths[j] for j in rows],
                # 8 bytes a number: 20,000 files hold ~3 million of each
                structure=array.array("d", cosines[at:end].tobytes()),
                text=array.array("d", texts[at:end].tobytes()),
                imported_by=[paths[j] for j in rows if j in importing],
            )
        )
        at = end
    return out


def with_candidates(repo_url: str, files: Sequence[vectors.FileVector]) -> list[vectors.FileVector]:
    """`files` (one repository's points, as a job writes them) with their candidates."""
    if not files:
        return []
    found = file_candidates(
        repo_url=repo_url,
        paths=[f.file_path for f in files],
        embeddings=np.array([np.asarray(f.vector) for f in files]),
        terms=[list(f.terms) for f in files],
        imports=[list(f.imports) for f in files],
        partners=[[p.file_path for p in f.cochange] for f in files],
    )
    return [dataclasses.replace(f, candidates=c) for f, c in zip(files, found, strict=True)]
