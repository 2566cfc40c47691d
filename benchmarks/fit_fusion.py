"""Fit the hybrid ranking's weights on dev repositories, offline, from benchmark dumps.

    .venv/bin/python benchmarks/related_files.py --group tune --repo A --repo B --dump tune.json
    .venv/bin/python benchmarks/fit_fusion.py tune.json [--values 0,0.05,0.1,0.25,0.5,1,2,4]

Each dump holds, per repository, every query file's hybrid answer (up to 100 files, each
with its `reasons`) and the files really changed with it later. The fit rebuilds each
answer's signals with the gateway's own code (`gateway.ranking.fuse`, one signal at a
time) and searches the weights by coordinate ascent from the weights in use: each pass
tries every value of `--values` for one weight at a time, keeping the best, until a pass
changes nothing. The objective is MRR averaged over repositories (each repository counts
once). Only answers the route returned are re-ranked, so weights are judged on the
candidates the weights in use put in the top 100.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.ranking import HYBRID_WEIGHTS, SIGNALS, Features, HybridWeights, fuse, proximity

RECALL_AT = 10


@dataclass
class Query:
    """One query's candidates: normalised signals [C, S], path order, relevance."""

    signals: np.ndarray
    path_rank: np.ndarray
    relevant: np.ndarray


def _directory(path: str) -> str:
    return path.rpartition("/")[0]


def _features(query: str, hit: dict[str, Any]) -> Features:
    reasons = hit["reasons"]
    return Features(
        repo_url=hit["repo_url"],
        file_path=hit["file_path"],
        language=hit.get("language", ""),
        structure=float(reasons["structure"]),
        text=float(reasons["text"]),
        history=float(reasons["history"]),
        commits=int(reasons["commits_together"]),
        last_changed=_unix(reasons["last_changed_together"]),
        import_relation=reasons["import_relation"],
        same_directory=bool(reasons["same_directory"]),
        proximity=proximity(_directory(query), _directory(hit["file_path"])),
        shared_identifiers=(),
        same_name=bool(reasons["same_name"]),
    )


def _unix(when: str | None) -> int:
    return int(datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp()) if when else 0


def load(dump: dict[str, Any]) -> dict[str, list[Query]]:
    """Per repository, its queries' normalised signals (from the gateway's `fuse`)."""
    repos: dict[str, list[Query]] = {}
    for repo in dump["repos"]:
        queries = []
        for q in repo.get("queries", []):
            hits = q["hybrid"]
            if not hits:
                queries.append(Query(np.zeros((0, len(SIGNALS))), np.zeros(0), np.zeros(0, bool)))
                continue
            features = [_features(q["file_path"], h) for h in hits]
            unit = [HybridWeights(**{s: float(s == name) for s in SIGNALS}) for name in SIGNALS]
            columns = [fuse(features, w) for w in unit]
            paths = [f.file_path for f in features]
            order = {p: i for i, p in enumerate(sorted(paths))}
            queries.append(
                Query(
                    signals=np.array(columns, dtype=np.float64).T,
                    path_rank=np.array([order[p] for p in paths]),
                    relevant=np.array([p in q["partners"] for p in paths]),
                )
            )
        repos[repo["repo"]] = queries
    return repos


def _ranks(query: Query, weights: np.ndarray) -> np.ndarray:
    """[R, W]: each relevant candidate's 1-based rank under each weight vector (ties by path)."""
    scores = np.round(query.signals @ weights.T, 9)  # [C, W]
    ranks = []
    for r in np.flatnonzero(query.relevant):
        above = scores > scores[r]
        tied = (scores == scores[r]) & (query.path_rank < query.path_rank[r])[:, None]
        ranks.append(1 + above.sum(axis=0) + tied.sum(axis=0))
    return np.array(ranks)


def evaluate(queries: Sequence[Query], weights: np.ndarray, partners: Sequence[int]) -> np.ndarray:
    """[W, 2]: MRR and recall@10 of one repository under each weight vector."""
    total = np.zeros((len(weights), 2))
    for query, count in zip(queries, partners, strict=True):
        if not query.relevant.any():
            continue
        ranks = _ranks(query, weights)
        total[:, 0] += 1.0 / ranks.min(axis=0)
        total[:, 1] += (ranks <= RECALL_AT).sum(axis=0) / count
    return total / max(len(queries), 1)


def _mean(
    repos: dict[str, list[Query]], partners: dict[str, list[int]], w: np.ndarray
) -> np.ndarray:
    """[W, 2]: MRR and recall@10 averaged over repositories."""
    return np.mean([evaluate(qs, w, partners[name]) for name, qs in repos.items()], axis=0)


def coordinate_ascent(
    repos: dict[str, list[Query]],
    partners: dict[str, list[int]],
    start: np.ndarray,
    values: list[float],
) -> np.ndarray:
    """The weights reached from `start` by changing one weight at a time to its best value."""
    best = start.copy()
    score = _mean(repos, partners, best[None, :])[0, 0]
    changed = True
    while changed:
        changed = False
        for j in range(len(best)):
            tries = np.repeat(best[None, :], len(values), axis=0)
            tries[:, j] = values
            means = _mean(repos, partners, tries)[:, 0]
            i = int(np.argmax(means))
            if means[i] > score + 1e-9:
                best, score, changed = tries[i], means[i], True
    return best


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dumps", nargs="+", type=Path, help="related_files.py --dump outputs")
    parser.add_argument(
        "--values", default="0,0.05,0.1,0.25,0.5,1,2,4", help="values tried for each weight"
    )
    args = parser.parse_args(argv)
    repos: dict[str, list[Query]] = {}
    partners: dict[str, list[int]] = {}
    for path in args.dumps:
        dump = json.loads(path.read_text())
        repos.update(load(dump))
        for repo in dump["repos"]:
            partners[repo["repo"]] = [len(q["partners"]) for q in repo.get("queries", [])]
    current = np.array(astuple(HYBRID_WEIGHTS), dtype=np.float64)
    fitted = coordinate_ascent(repos, partners, current, [float(v) for v in args.values.split(",")])
    both = np.vstack([current, fitted])
    per_repo = {name: evaluate(qs, both, partners[name]) for name, qs in repos.items()}
    mean = np.mean(list(per_repo.values()), axis=0)
    print(f"coordinate ascent over {len(repos)} repositories")
    for label, i in (("in use", 0), ("fitted", 1)):
        w = ", ".join(f"{s}={v:g}" for s, v in zip(SIGNALS, both[i], strict=True))
        print(f"{label}: {w}\n  mean MRR {mean[i, 0]:.3f}, recall@10 {mean[i, 1]:.3f}")
    for name, scores in per_repo.items():
        print(f"  {name}: MRR in use {scores[0, 0]:.3f}, fitted {scores[1, 0]:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
