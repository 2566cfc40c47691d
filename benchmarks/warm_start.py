"""Warm start against training from scratch, along real repositories' commits.

Run: `.venv/bin/python benchmarks/warm_start.py [--repos click=PATH,sympy=PATH] [--pairs 4]`
(needs scikit-learn and scipy, of the `bench` extra: `.venv/bin/pip install -e '.[dev,bench]'`)

For each repository (a git repository on disk, cloned here without a checkout), the
last `--pairs` + 1 first-parent commits that changed a Python file, oldest first,
are parsed as the edge parses them (`graph_of` at that commit: imports, and co-change
pairs from its history) into the walk graph the pipeline trains on (`walk_edges`). As
the coordinator would ingest them one after another:

- cold: every commit trained from scratch (10 epochs, seeded by repository and commit,
  `training_seed`), as before warm starts;
- warm: the first commit cold, each later one from the one before's warm vectors
  (`warm_start.initial_vectors`: only when `--min-kept` of the files are kept; else
  cold), `--warm-epochs` epochs at `TrainConfig.warm_lr`.

Per pair C1 -> C2:

- overlap@10: structure-mode `similar` of each file in both commits (the 10 nearest
  files by cosine among its commit's files), the share of C1's 10 still in C2's; warm
  against cold, and cold against cold on C1's graph with another seed: Node2Vec's own
  variance;
- train seconds (`train_embeddings`, in-process) of C2, cold and warm, `--runs` times:
  median and range;
- link-prediction ROC-AUC on C2's graph (`embed_vs_pecanpy.split_edges`: 10% of the
  edges held out, as many non-edges; cosine, and Hadamard + logistic regression), for
  `--splits` splits: the held-out edges are removed from every commit of the chain
  before training, so the warm vectors never saw them. Also cold with another seed
  against cold, the noise of one training.

Warm start stays on by default only if its mean AUC (both scores) is within 0.005 of
cold on every repository; the last line says whether it is.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from embed_vs_pecanpy import canonical_edges, link_prediction_auc, split_edges  # noqa: E402

DEFAULT_REPOS = "click=/work/.mirror/pallets+click/repo,sympy=/work/.mirror/sympy+sympy/repo"
TOP = 10
AUC_TOLERANCE = 0.005


@dataclass
class Commit:
    sha: str
    paths: list[str]
    edges: np.ndarray  # [E, 2] undirected walk edges, u < v


def commit_graphs(source: str, count: int, data_dir: Path) -> list[Commit]:
    """The repository's last `count` commits that changed a Python file, oldest first."""
    from services.common.config import Settings
    from services.ingest.pipeline import walk_edges
    from services.parser.client import ParsedGraph
    from services.parser.source import graph_of

    clone = data_dir / "repo"
    subprocess.run(["git", "clone", "-q", "--no-checkout", source, str(clone)], check=True)
    log = ["git", "-C", str(clone), "log", "--first-parent", "--format=%H", f"-n{count}"]
    shas = subprocess.run([*log, "--", "*.py"], capture_output=True, text=True, check=True)
    settings = Settings(mode="LOCAL", alexandria_data_dir=data_dir / "data")
    commits = []
    for sha in reversed(shas.stdout.split()):
        subprocess.run(["git", "-C", str(clone), "update-ref", "--no-deref", "HEAD", sha])
        graph = graph_of(str(clone), settings).graph
        parsed = ParsedGraph("", sha, graph.nodes, graph.edges, graph.cochanges)
        sources, targets = walk_edges(parsed, cochange_edges=settings.train_cochange_edges)
        edges = canonical_edges(np.stack([sources, targets], 1))
        commits.append(Commit(sha, [node.path for node in graph.nodes], edges))
    return commits


def train(
    commit: Commit,
    seed: int,
    args: argparse.Namespace,
    *,
    previous: dict[str, np.ndarray] | None = None,
    edges: np.ndarray | None = None,
) -> tuple[np.ndarray, float, bool]:
    """Vectors, train seconds and whether it started warm; `previous`: path -> vector
    (warm when enough files are kept), `edges`: the commit's edges unless given."""
    import torch

    from services.embedder.train import InitialVectors, TrainConfig, train_embeddings
    from services.ingest.warm_start import initial_vectors

    edges = commit.edges if edges is None else edges
    initial = None
    if previous is not None:
        found = initial_vectors(commit.paths, previous, args.min_kept)
        if found is not None:
            initial = InitialVectors(torch.from_numpy(found[0]), torch.from_numpy(found[1]))
    epochs = args.warm_epochs if initial is not None else 10
    config = TrainConfig(seed=seed, epochs=epochs)
    edge_index = torch.from_numpy(np.ascontiguousarray(edges.T))
    result = train_embeddings(edge_index, len(commit.paths), config, device="cpu", initial=initial)
    return result.embeddings.numpy(), result.seconds, initial is not None


def by_path(commit: Commit, vectors: np.ndarray) -> dict[str, np.ndarray]:
    """What the coordinator reads back: each file's vector, via float32 unit and norm."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    restored = (vectors / np.maximum(norms, 1e-12)).astype(np.float32) * norms
    return dict(zip(commit.paths, restored.astype(np.float32), strict=True))


def top_files(commit: Commit, vectors: np.ndarray) -> dict[str, set[str]]:
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    scores = unit @ unit.T
    np.fill_diagonal(scores, -np.inf)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :TOP]
    return {commit.paths[i]: {commit.paths[j] for j in order[i]} for i in range(len(order))}


def overlap(first: dict[str, set[str]], second: dict[str, set[str]]) -> float:
    common = first.keys() & second.keys()
    return float(np.mean([len(first[p] & second[p]) / TOP for p in common]))


def without(commit: Commit, held_out: set[tuple[str, str]]) -> np.ndarray:
    keep = [(commit.paths[a], commit.paths[b]) not in held_out for a, b in commit.edges]
    return commit.edges[np.array(keep, dtype=bool)]


@dataclass
class PairRow:
    label: str
    warm: bool
    overlap_warm: float
    overlap_cold: float
    overlap_seeds: float
    cold_seconds: list[float]
    warm_seconds: list[float]
    auc_cold: np.ndarray  # [cosine, hadamard], mean over splits
    auc_warm: np.ndarray
    auc_seed: np.ndarray  # cold with another seed


def bench_repo(name: str, source: str, args: argparse.Namespace) -> list[PairRow]:
    from services.ingest.pipeline import training_seed

    with tempfile.TemporaryDirectory(prefix="bench-warm-") as scratch:
        commits = commit_graphs(source, args.pairs + 1, Path(scratch))
    seeds = [training_seed(f"file://{Path(source).resolve()}", c.sha) for c in commits]
    cold = [train(c, s, args)[0] for c, s in zip(commits, seeds, strict=True)]
    warm = [cold[0]]
    for k in range(1, len(commits)):
        previous = by_path(commits[k - 1], warm[-1])
        warm.append(train(commits[k], seeds[k], args, previous=previous)[0])
    rows = []
    for k in range(1, len(commits)):
        c1, c2 = commits[k - 1], commits[k]
        other_seed = train(c1, seeds[k - 1] + 1, args)[0]
        previous = by_path(c1, warm[k - 1])
        cold_s = [train(c2, seeds[k], args)[1] for _ in range(args.runs)]
        warm_runs = [train(c2, seeds[k], args, previous=previous) for _ in range(args.runs)]
        auc = {"cold": [], "warm": [], "seed": []}
        for split_seed in range(args.splits):
            split = split_edges(c2.edges, len(c2.paths), split_seed)
            positives = split.test_pairs[: len(split.test_pairs) // 2]
            held = {(c2.paths[a], c2.paths[b]) for a, b in positives}
            held |= {(b, a) for a, b in held}
            chain = train(commits[0], seeds[0], args, edges=without(commits[0], held))[0]
            for j in range(1, k + 1):
                chain = train(
                    commits[j],
                    seeds[j],
                    args,
                    previous=by_path(commits[j - 1], chain),
                    edges=without(commits[j], held),
                )[0]
            auc["warm"].append(link_prediction_auc(chain, split, split_seed))
            for key, seed in (("cold", seeds[k]), ("seed", seeds[k] + 1)):
                vectors = train(c2, seed, args, edges=split.residual)[0]
                auc[key].append(link_prediction_auc(vectors, split, split_seed))
        rows.append(
            PairRow(
                label=f"{c1.sha[:8]}->{c2.sha[:8]} ({len(c2.paths)} files, {len(c2.edges)} edges)",
                warm=warm_runs[0][2],
                overlap_warm=overlap(top_files(c1, warm[k - 1]), top_files(c2, warm[k])),
                overlap_cold=overlap(top_files(c1, cold[k - 1]), top_files(c2, cold[k])),
                overlap_seeds=overlap(top_files(c1, cold[k - 1]), top_files(c1, other_seed)),
                cold_seconds=cold_s,
                warm_seconds=[seconds for _, seconds, _ in warm_runs],
                auc_cold=np.mean(auc["cold"], 0),
                auc_warm=np.mean(auc["warm"], 0),
                auc_seed=np.mean(auc["seed"], 0),
            )
        )
        print_row(name, rows[-1])
    return rows


def spread(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.3f} s ({min(values):.3f}-{max(values):.3f})"


def speedup(row: PairRow) -> float:
    return statistics.median(row.cold_seconds) / statistics.median(row.warm_seconds)


def print_row(name: str, row: PairRow) -> None:
    d_warm, d_seed = row.auc_warm - row.auc_cold, row.auc_seed - row.auc_cold
    print(
        f"{name} {row.label}{'' if row.warm else ' [cold: too many files changed]'}\n"
        f"  overlap@10 warm {row.overlap_warm:.3f}, cold {row.overlap_cold:.3f}, "
        f"cold other seed {row.overlap_seeds:.3f}\n"
        f"  train cold {spread(row.cold_seconds)}, warm {spread(row.warm_seconds)}, "
        f"ratio {speedup(row):.1f}x\n"
        f"  AUC cold cos {row.auc_cold[0]:.4f} had {row.auc_cold[1]:.4f}; "
        f"warm - cold {d_warm[0]:+.4f} {d_warm[1]:+.4f}; other seed - cold "
        f"{d_seed[0]:+.4f} {d_seed[1]:+.4f}",
        flush=True,
    )


def main() -> None:
    from services.common.config import Settings

    settings = Settings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repos", default=DEFAULT_REPOS, help="name=path,...")
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3, help="timed trainings of each kind")
    parser.add_argument("--splits", type=int, default=3, help="held-out splits for the AUC")
    parser.add_argument("--warm-epochs", type=int, default=settings.train_warm_epochs)
    parser.add_argument("--min-kept", type=float, default=settings.train_warm_min_kept)
    args = parser.parse_args()
    import torch

    print(f"warm: {args.warm_epochs} epochs; cold: 10; torch threads {torch.get_num_threads()}")
    verdict = True
    for item in args.repos.split(","):
        name, _, source = item.partition("=")
        rows = bench_repo(name, source, args)
        d = np.mean([r.auc_warm - r.auc_cold for r in rows], 0)
        seed = np.mean([np.abs(r.auc_seed - r.auc_cold) for r in rows], 0)
        ratio = [speedup(r) for r in rows]
        print(
            f"{name}, mean of {len(rows)} pairs: overlap@10 warm "
            f"{np.mean([r.overlap_warm for r in rows]):.3f}, cold "
            f"{np.mean([r.overlap_cold for r in rows]):.3f}, seeds "
            f"{np.mean([r.overlap_seeds for r in rows]):.3f}; train cold/warm "
            f"{min(ratio):.1f}-{max(ratio):.1f}x; AUC warm - cold cos {d[0]:+.4f} had "
            f"{d[1]:+.4f} (|other seed - cold| {seed[0]:.4f} {seed[1]:.4f})",
            flush=True,
        )
        verdict &= bool(np.all(d >= -AUC_TOLERANCE))
    print(f"warm start within {AUC_TOLERANCE} of cold AUC everywhere: {verdict}")


if __name__ == "__main__":
    main()
