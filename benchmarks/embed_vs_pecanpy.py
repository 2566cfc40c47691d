"""Node2Vec link prediction: our embedder against PecanPy + gensim, same graphs, same split.

Run: `.venv/bin/python benchmarks/embed_vs_pecanpy.py [--nodes 100000] [--device auto]`
(needs the `bench` extra: `.venv/bin/pip install -e '.[dev,bench]'`)

1. Graphs (`--graphs`): the import graph of an installed package (default `torch`)
   built by our parser (`build_graph` over a copy of the package, so absolute imports
   resolve as in its repository; edges made undirected, isolated files dropped)
   and a seeded Holme-Kim power-law graph (`networkx.powerlaw_cluster_graph`: `--nodes`, `--hk-m`
   edges per new node, triangle probability `--hk-triangle`). Unlike a plain
   Barabasi-Albert graph, whose edges carry no local structure for link prediction
   to find (every method scores AUC ~0.5 on it), it has power-law degrees and
   clustering, as code import graphs do.
2. Split (fixed seed): 10% of the edges are held out as positive test pairs, drawn
   only among edges outside a random spanning forest, so the residual graph keeps
   every component connected and every node its degree >= 1; as many random
   non-edges are the negatives. A separate sample of residual edges and of other
   non-edges trains the Hadamard + logistic-regression scorer.
3. Ours: `train_embeddings` (seed defaults: 64 dims, walk length 20, context 10,
   10 walks per node, 10 epochs) on the residual graph, `--device` auto|cpu|cuda.
4. Anchor: PecanPy's fastest mode (FirstOrderUnweighted for p = q = 1; for other p, q
   each mode of `--pecanpy-biased`, SparseOTF and PreComp by default), CPU,
   `embed(dim=64, num_walks=10, walk_length=20, window_size=10, epochs=E)` for each E
   of `--pecanpy-epochs`
   (1 is PecanPy's default; 10 matches our epoch count), workers = all cores.
   PecanPy's walk_length counts steps as ours does: both walks have 21 nodes.
5. Each training runs in a fresh process (`--child ours|pecanpy`): wall time around
   the process, split into start-up (interpreter and imports), work (load, train
   with numba's JIT for PecanPy, save) and exit (teardown); peak RSS (VmHWM from
   /proc/self/status) and, on CUDA, max_memory_allocated.
6. Link-prediction ROC-AUC on the held-out pairs: cosine similarity, and Hadamard
   product + logistic regression. Prints a table per graph and (p, q) with the
   ratios ours / PecanPy (wall and work) and the AUC differences.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DIM, WALK_LENGTH, CONTEXT, WALKS_PER_NODE, EPOCHS = 64, 20, 10, 10, 10
TEST_FRACTION = 0.1


# --- graphs -------------------------------------------------------------------------


def canonical_edges(pairs: np.ndarray) -> np.ndarray:
    """Undirected, deduplicated, self-loop free `[E, 2]` edges with u < v."""
    pairs = np.sort(np.asarray(pairs, dtype=np.int64).reshape(-1, 2), axis=1)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    return np.unique(pairs, axis=0)


def drop_isolated(edges: np.ndarray) -> tuple[np.ndarray, int]:
    """Relabel so that only nodes with an edge remain: (edges, num_nodes)."""
    used, inverse = np.unique(edges, return_inverse=True)
    return inverse.reshape(edges.shape), used.size


def package_import_graph(package: str) -> tuple[np.ndarray, int, str]:
    """The import graph of an installed package's own sources, built by our parser.

    The package is copied under a scratch root, as it sits in its repository, so that
    its absolute imports (`import torch.nn`) resolve as well as its relative ones.
    """
    import importlib.util
    import shutil

    from services.parser.graph import build_graph

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"--graphs: {package!r} is neither 'powerlaw' nor an installed package")
    source = Path(next(iter(spec.submodule_search_locations)))
    with tempfile.TemporaryDirectory(prefix="bench-pkg-") as root:
        ignore = shutil.ignore_patterns("__pycache__", "*.so", "*.pyc")
        shutil.copytree(source, Path(root) / package, ignore=ignore)
        graph = build_graph(Path(root))
    edges = canonical_edges(np.array([(s, t) for s, t, _ in graph.edges]).reshape(-1, 2))
    edges, n = drop_isolated(edges)
    label = f"{package} imports ({len(graph.nodes)} files, {n} with an edge)"
    return edges, n, label


def holme_kim(n: int, m: int, triangle: float, seed: int) -> tuple[np.ndarray, int, str]:
    """Power-law graph with clustering (networkx.powerlaw_cluster_graph)."""
    import networkx as nx

    graph = nx.powerlaw_cluster_graph(n, m, triangle, seed=seed)
    edges = canonical_edges(np.array(graph.edges(), dtype=np.int64))
    return edges, n, f"Holme-Kim power-law n={n} m={m} triangle p={triangle} (seed {seed})"


# --- split --------------------------------------------------------------------------


@dataclass
class Split:
    num_nodes: int
    residual: np.ndarray  # [R, 2] undirected edges the embedders train on
    test_pairs: np.ndarray  # [2T, 2] held-out edges then non-edges
    test_labels: np.ndarray
    train_pairs: np.ndarray  # residual edges and other non-edges, for the LR scorer
    train_labels: np.ndarray


def spanning_forest_mask(edges: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """True for the edges of a random spanning forest (random-weight MST)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import minimum_spanning_tree

    weights = rng.random(len(edges)) + 1.0  # > 0: csgraph treats 0 as no edge
    tree = minimum_spanning_tree(coo_matrix((weights, (edges[:, 0], edges[:, 1])), (n, n)))
    tree = tree.tocoo()
    keys = np.minimum(tree.row, tree.col).astype(np.int64) * n + np.maximum(tree.row, tree.col)
    return np.isin(edges[:, 0] * n + edges[:, 1], keys)


def sample_non_edges(
    n: int, count: int, forbidden: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """`count` distinct node pairs u < v whose key u*n+v is not in sorted `forbidden`."""
    found = np.empty(0, dtype=np.int64)
    while found.size < count:
        u = rng.integers(0, n, 2 * count)
        v = rng.integers(0, n, 2 * count)
        lo, hi = np.minimum(u, v), np.maximum(u, v)
        keys = np.unique(lo[lo != hi] * n + hi[lo != hi])
        keys = keys[~np.isin(keys, forbidden) & ~np.isin(keys, found)]
        found = np.concatenate([found, rng.permutation(keys)[: count - found.size]])
    return np.stack([found // n, found % n], axis=1)


def split_edges(edges: np.ndarray, n: int, seed: int) -> Split:
    rng = np.random.default_rng(seed)
    protected = spanning_forest_mask(edges, n, rng)
    candidates = np.flatnonzero(~protected)
    test_count = min(round(TEST_FRACTION * len(edges)), candidates.size)
    test_idx = rng.choice(candidates, test_count, replace=False)
    keep = np.ones(len(edges), dtype=bool)
    keep[test_idx] = False
    residual, positives = edges[keep], edges[test_idx]
    all_keys = np.sort(edges[:, 0] * n + edges[:, 1])
    negatives = sample_non_edges(n, 2 * test_count, all_keys, rng)
    test_neg, train_neg = negatives[:test_count], negatives[test_count:]
    train_pos = residual[rng.choice(len(residual), test_count, replace=False)]
    ones, zeros = np.ones(test_count), np.zeros(test_count)
    return Split(
        num_nodes=n,
        residual=residual,
        test_pairs=np.concatenate([positives, test_neg]),
        test_labels=np.concatenate([ones, zeros]),
        train_pairs=np.concatenate([train_pos, train_neg]),
        train_labels=np.concatenate([ones, zeros]),
    )


# --- children: one training per fresh process ---------------------------------------


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return 0


def child_ours(args: argparse.Namespace) -> dict[str, object]:
    import torch

    from services.embedder.train import TrainConfig, train_embeddings

    ready = time.time()
    edge_index = torch.from_numpy(np.load(args.edges)).t().contiguous()
    config = TrainConfig(p=args.p, q=args.q, seed=args.seed)
    if args.lr:
        config = replace(config, lr=args.lr[0])
    result = train_embeddings(edge_index, args.num_nodes, config, device=args.device)
    np.save(args.out, result.embeddings.numpy())
    info: dict[str, object] = {
        "ready": ready,
        "train_seconds": result.seconds,
        "device": result.device,
        "torch_threads": torch.get_num_threads(),
    }
    if result.device.startswith("cuda"):
        info["cuda_max_memory_allocated"] = torch.cuda.max_memory_allocated()
        info["gpu"] = torch.cuda.get_device_name()
    return info


def _numpy2_aliases_for_nptyping() -> None:
    """PecanPy imports nptyping, whose numpy-2-compatible release (2.0.1) still names
    aliases numpy 2 removed; restore them before the import (benchmark only)."""
    aliases = {
        "bool8": "bool_",
        "bytes0": "bytes_",
        "cfloat": "complex128",
        "clongfloat": "clongdouble",
        "complex_": "complex128",
        "float_": "float64",
        "int0": "intp",
        "longcomplex": "clongdouble",
        "longfloat": "longdouble",
        "object0": "object_",
        "singlecomplex": "complex64",
        "str0": "str_",
        "string_": "bytes_",
        "uint0": "uintp",
        "unicode_": "str_",
        "void0": "void",
    }
    for old, new in aliases.items():
        if not hasattr(np, old):
            setattr(np, old, getattr(np, new))


def child_pecanpy(args: argparse.Namespace) -> dict[str, object]:
    _numpy2_aliases_for_nptyping()
    from pecanpy import pecanpy

    ready = time.time()
    mode = getattr(pecanpy, args.mode)
    graph = mode(p=args.p, q=args.q, workers=args.workers, random_state=args.seed)
    graph.read_npz(args.edges, weighted=False, implicit_ids=True)
    if args.mode == "PreComp":
        graph.preprocess_transition_probs()
    vectors = graph.embed(
        dim=DIM,
        num_walks=WALKS_PER_NODE,
        walk_length=WALK_LENGTH,
        window_size=CONTEXT,
        epochs=args.epochs,
    )
    embeddings = np.zeros((args.num_nodes, DIM), dtype=np.float32)
    embeddings[np.array(graph.nodes, dtype=np.int64)] = vectors
    np.save(args.out, embeddings)
    return {"ready": ready, "workers": args.workers}


@dataclass
class ChildRun:
    """A child's whole-process wall time, split at the moments it reported: start-up
    (interpreter and imports), work (load, train, save) and exit (teardown)."""

    wall: float
    startup: float
    work: float
    exit: float
    info: dict[str, object]


def run_child(command: list[str]) -> ChildRun:
    launched = time.time()
    proc = subprocess.run(command, capture_output=True, text=True)
    ended = time.time()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{proc.stderr[-4000:]}")
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    ready, done = float(info["ready"]), float(info["done"])
    return ChildRun(ended - launched, ready - launched, done - ready, ended - done, info)


# --- evaluation ---------------------------------------------------------------------


def link_prediction_auc(emb: np.ndarray, split: Split, seed: int) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    emb = emb.astype(np.float64)
    unit = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    a, b = split.test_pairs[:, 0], split.test_pairs[:, 1]
    cosine = roc_auc_score(split.test_labels, np.sum(unit[a] * unit[b], axis=1))
    train_x = emb[split.train_pairs[:, 0]] * emb[split.train_pairs[:, 1]]
    clf = LogisticRegression(max_iter=2000, random_state=seed)
    clf.fit(train_x, split.train_labels)
    hadamard = roc_auc_score(split.test_labels, clf.predict_proba(emb[a] * emb[b])[:, 1])
    return float(cosine), float(hadamard)


@dataclass
class Row:
    name: str
    cosine: float
    hadamard: float
    run: ChildRun
    extra: str = ""


def bench_graph(label: str, edges: np.ndarray, n: int, args: argparse.Namespace) -> None:
    started = time.perf_counter()
    split = split_edges(edges, n, args.seed)
    test = len(split.test_labels) // 2
    print(
        f"\n== {label}: {n} nodes, {len(edges)} undirected edges; residual "
        f"{len(split.residual)}, test {test} held-out + {test} non-edges "
        f"(split {time.perf_counter() - started:.1f} s)"
    )
    workers = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory(prefix="bench-n2v-") as tmp:
        npy = Path(tmp) / "residual.npy"
        np.save(npy, split.residual)
        undirected = np.concatenate([split.residual, split.residual[:, ::-1]])
        from scipy.sparse import csr_matrix

        csr = csr_matrix((np.ones(len(undirected)), (undirected[:, 0], undirected[:, 1])), (n, n))
        csr.sort_indices()
        npz = Path(tmp) / "residual.csr.npz"
        np.savez(npz, data=csr.data, indptr=csr.indptr, indices=csr.indices)
        base = [sys.executable, __file__, "--num-nodes", str(n), "--seed", str(args.seed)]
        for p, q in args.pq:
            rows: list[Row] = []
            modes = ["FirstOrderUnweighted"] if p == q == 1 else args.pecanpy_biased
            for mode, epochs in [(mode, e) for mode in modes for e in args.pecanpy_epochs]:
                out = Path(tmp) / f"pecanpy-{mode}-{epochs}.npy"
                command = [*base, "--child", "pecanpy", "--edges", str(npz), "--out", str(out)]
                command += ["--p", str(p), "--q", str(q), "--mode", mode]
                command += ["--epochs", str(epochs), "--workers", str(workers)]
                run = run_child(command)
                cos, had = link_prediction_auc(np.load(out), split, args.seed)
                rows.append(Row(f"PecanPy {mode} epochs={epochs}", cos, had, run))
            rates = args.lr or [None]
            ours = [run_ours(base, npy, Path(tmp), split, p, q, lr, args) for lr in rates]
            print_table(p, q, rows, ours)


def run_ours(
    base: list[str],
    npy: Path,
    tmp: Path,
    split: Split,
    p: float,
    q: float,
    lr: float | None,
    args: argparse.Namespace,
) -> Row:
    """Our training in a fresh process at learning rate `lr` (None: TrainConfig's)."""
    out = tmp / "ours.npy"
    command = [*base, "--child", "ours", "--edges", str(npy), "--out", str(out)]
    command += ["--p", str(p), "--q", str(q), "--device", args.device]
    command += [] if lr is None else ["--lr", str(lr)]
    run = run_child(command)
    info = run.info
    cos, had = link_prediction_auc(np.load(out), split, args.seed)
    extra = f"train {info['train_seconds']:.1f} s, {info['torch_threads']} threads"
    if "cuda_max_memory_allocated" in info:
        mib = info["cuda_max_memory_allocated"] / 2**20  # type: ignore[operator]
        extra = f"{info['gpu']}, max_memory_allocated {mib:.0f} MiB; {extra}"
    name = f"ours ({info['device']})" + ("" if lr is None else f" lr {lr:g}")
    return Row(name, cos, had, run, extra)


def print_table(p: float, q: float, anchors: list[Row], ours_rows: list[Row]) -> None:
    print(f"  p={p:g} q={q:g}")
    head = f"    {'method':<38} {'AUC cos':>8} {'AUC had+LR':>10} {'wall s':>8}"
    print(f"{head} {'start s':>8} {'work s':>8} {'exit s':>8} {'peak RSS MiB':>12}")
    for row in [*anchors, *ours_rows]:
        run, rss_mib = row.run, float(row.run.info["peak_rss_kib"]) / 1024  # type: ignore[arg-type]
        print(
            f"    {row.name:<38} {row.cosine:8.4f} {row.hadamard:10.4f} {run.wall:8.1f}"
            f" {run.startup:8.1f} {run.work:8.1f} {run.exit:8.1f} {rss_mib:12.0f}"
            + (f"   {row.extra}" if row.extra else "")
        )
    for ours, anchor in [(ours, anchor) for ours in ours_rows for anchor in anchors]:
        wall, work = ours.run.wall / anchor.run.wall, ours.run.work / anchor.run.work
        print(
            f"    {ours.name} vs {anchor.name}: wall ours/PecanPy = {wall:.2f}x, work {work:.2f}x "
            f"(target <= 1, stretch <= 0.5); AUC diff cos {ours.cosine - anchor.cosine:+.4f}, "
            f"had+LR {ours.hadamard - anchor.hadamard:+.4f} (target >= 0)"
        )


def parse_pq(text: str) -> list[tuple[float, float]]:
    pairs = []
    for item in text.split(";"):
        p, q = item.split(",")
        pairs.append((float(p), float(q)))
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--graphs",
        default="torch,powerlaw",
        help="comma-separated: powerlaw and/or installed packages (their import graphs)",
    )
    parser.add_argument("--nodes", type=int, default=100_000, help="power-law graph size")
    parser.add_argument("--hk-m", type=int, default=3, help="edges per new Holme-Kim node")
    parser.add_argument("--hk-triangle", type=float, default=0.8, help="Holme-Kim triangle p")
    parser.add_argument("--pq", type=parse_pq, default=parse_pq("1,1;1,0.5"), help='"p,q;p,q"')
    parser.add_argument("--device", default="auto", help="ours: auto|cpu|cuda")
    parser.add_argument(
        "--pecanpy-epochs",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[1, 10],
        help="gensim epochs for PecanPy, comma-separated (1 is its default)",
    )
    parser.add_argument(
        "--pecanpy-biased",
        type=lambda s: s.split(","),
        default=["SparseOTF", "PreComp"],
        help="PecanPy modes for p, q != 1, comma-separated (SparseOTF, PreComp, DenseOTF)",
    )
    parser.add_argument(
        "--lr",
        type=lambda s: [float(x) for x in s.split(",")],
        help="ours at each of these learning rates, comma-separated (default: TrainConfig's)",
    )
    parser.add_argument("--seed", type=int, default=0, help="graph and split seed")
    # children
    parser.add_argument("--child", choices=["ours", "pecanpy"], help=argparse.SUPPRESS)
    parser.add_argument("--edges", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--num-nodes", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--p", type=float, default=1.0, help=argparse.SUPPRESS)
    parser.add_argument("--q", type=float, default=1.0, help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        info = child_ours(args) if args.child == "ours" else child_pecanpy(args)
        # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so it would
        # report the parent that started this process.
        info["peak_rss_kib"] = _status_kib("VmHWM:")
        info["done"] = time.time()
        print(json.dumps(info))
        if args.child == "ours":
            gc.freeze()  # exits as `alexandria embed` does (alexandria.cli.run)
        return

    import torch

    cores = len(os.sched_getaffinity(0))
    print(f"cores: {cores}, python {sys.version.split()[0]}, torch {torch.__version__}")
    print(
        f"config: dim {DIM}, walk length {WALK_LENGTH} steps, context {CONTEXT}, "
        f"{WALKS_PER_NODE} walks/node, ours {EPOCHS} epochs (fresh walks each), "
        f"PecanPy gensim epochs {args.pecanpy_epochs} over one set of walks, seed {args.seed}"
    )
    print("targets: AUC ours >= PecanPy; wall ours <= PecanPy (stretch <= 0.5x)")
    for name in args.graphs.split(","):
        if name == "powerlaw":
            edges, n, label = holme_kim(args.nodes, args.hk_m, args.hk_triangle, args.seed)
        else:
            started = time.perf_counter()
            edges, n, label = package_import_graph(name)
            print(f"built the {name} import graph in {time.perf_counter() - started:.1f} s")
        bench_graph(label, edges, n, args)


if __name__ == "__main__":
    main()
