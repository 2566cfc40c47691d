"""Related files (issue 16): does `GET /api/v1/graph/similar` return the files a developer
will change together with the queried one?

For each repository (a git repository with history, bare or not):
- T = the mainline (first-parent) commit just before the repository's last `--window`
  non-merge commits: the newest first-parent commit with at least `window` non-merge
  commits in T..HEAD. A temporary bare repository whose only branch is T (and so whose
  history ends at T) is what the product ingests: it sees nothing after T.
- Ground truth (logical coupling, Zimmermann et al. 2005): for each file present at T,
  the files changed together with it in the non-merge commits of T..HEAD that touch 2-15
  files present at T (`git log --no-renames`: a rename touches its old path). Queries
  and partners are then restricted to the files the product indexes (the graph's nodes,
  what `GET /api/v1/graph/files` returns); a query file needs at least one partner.
- Metrics over the query files: MRR (reciprocal rank of the first partner in the
  returned list, 0 when none is in it) and recall@10 (partners in the first 10 / all
  partners). Every ranking is cut to 100 files, the route's limit.
- Rankers, side by side in one run: the product's default (`similar` without `mode`,
  limit 100, checked on a sample to equal `mode=hybrid`), `mode=structure` (Node2Vec
  cosine), `mode=text` (identifier tf-idf), `mode=history` (co-change before T), graph
  distance (BFS over the undirected import graph of `/graph/files`, ties by Adamic-Adar,
  then path) and same directory (same directory first, then by directory-tree distance,
  then path). The ratio printed is the product's MRR over the best single signal's.

The product runs for real: `alexandria up` in a temporary data dir on free ports
(embedded Redis, SQLite, Qdrant local mode), the repository ingested through the REST
API (`file://` URL), every query through `/api/v1/graph/similar`; the stack is stopped
at the end whatever happens. A gateway whose `similar` ignores `mode` (no `mode` in its
answer) is measured as what it is: its one ranking counts as the product and as
structure, and text and history are reported as n/a.

    .venv/bin/python benchmarks/related_files.py --repo /path/to/repo
    .venv/bin/python benchmarks/related_files.py --group tune --repo A --repo B \\
        --group held-out --repo C --window 400 --out results.json --dump answers.json

`--group NAME` labels the `--repo`s that follow it (default "all"); group means are the
means over the group's repositories.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # also when loaded by its path
from product_stack import LIMIT, ROOT, Api, Stack

MODES = ("structure", "text", "history")
SIGNALS = ("structure", "text", "history", "graph_distance", "same_directory")
RANKERS = ("product", *SIGNALS)
RECALL_AT = 10
MIN_FILES, MAX_FILES = 2, 15  # a qualifying commit touches this many files present at T


# ---------------------------------------------------------------- git: T and ground truth


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"git {' '.join(args[:3])} in {repo}: {done.stderr.strip()[-500:]}")
    return done.stdout


@dataclass(frozen=True)
class Cutoff:
    commit: str
    window_commits: int  # non-merge commits in T..HEAD
    mainline_index: int  # T's place on the first-parent chain, HEAD = 0


def cutoff_commit(repo: Path, window: int, head: str = "HEAD") -> Cutoff:
    """The newest first-parent commit T with at least `window` non-merge commits in T..head.

    The count grows along the first-parent chain (each commit is an ancestor of the one
    before), so a binary search finds it. Raises ValueError when the history is shorter."""
    mainline = git(repo, "rev-list", "--first-parent", head).split()

    def count(i: int) -> int:
        return int(git(repo, "rev-list", "--count", "--no-merges", f"{mainline[i]}..{head}"))

    last = len(mainline) - 1
    if window < 1 or last < 1 or count(last) < window:
        raise ValueError(
            f"{repo}: fewer than {window} non-merge commits after the root commit's mainline"
        )
    lo, hi = 1, last  # count(hi) >= window
    while lo < hi:
        mid = (lo + hi) // 2
        if count(mid) >= window:
            hi = mid
        else:
            lo = mid + 1
    return Cutoff(commit=mainline[lo], window_commits=count(lo), mainline_index=lo)


def files_at(repo: Path, commit: str) -> set[str]:
    """The regular files (blobs) of `commit`'s tree."""
    out = git(repo, "ls-tree", "-r", "-z", commit)
    files = set()
    for entry in out.split("\0"):
        if not entry:
            continue
        meta, _, path = entry.partition("\t")
        if meta.split()[1] == "blob":
            files.add(path)
    return files


def commits_after(repo: Path, commit: str, head: str = "HEAD") -> list[list[str]]:
    """Each non-merge commit of commit..head as the paths it touches (renames as delete +
    add, so a renamed file's old path counts)."""
    out = git(
        repo,
        "log",
        "--no-merges",
        "--no-renames",
        "--format=%x01%H",
        "--name-only",
        "-z",
        f"{commit}..{head}",
    )
    commits = []
    for chunk in out.split("\x01")[1:]:
        _sha, _, rest = chunk.partition("\0")
        rest = rest.removeprefix("\n")
        commits.append([p for p in rest.split("\0") if p])
    return commits


def coupling(
    commits: Iterable[Sequence[str]],
    present: set[str],
    *,
    min_files: int = MIN_FILES,
    max_files: int = MAX_FILES,
) -> tuple[dict[str, Counter[str]], int]:
    """Each present file's partners with how many qualifying commits they shared, and the
    number of qualifying commits (those touching min_files..max_files present files)."""
    partners: dict[str, Counter[str]] = {}
    qualified = 0
    for touched in commits:
        files = sorted(set(touched) & present)
        if not min_files <= len(files) <= max_files:
            continue
        qualified += 1
        for f in files:
            counter = partners.setdefault(f, Counter())
            for g in files:
                if g != f:
                    counter[g] += 1
    return partners, qualified


def ground_truth(
    partners: Mapping[str, Counter[str]], indexed: Iterable[str]
) -> dict[str, dict[str, int]]:
    """Queries and partners restricted to indexed files; queries without partners dropped."""
    keep = set(indexed)
    truth = {}
    for f in sorted(partners.keys() & keep):
        mine = {g: n for g, n in partners[f].items() if g in keep and g != f}
        if mine:
            truth[f] = dict(sorted(mine.items(), key=lambda kv: (-kv[1], kv[0])))
    return truth


def snapshot(src: Path, commit: str, dest: Path) -> Path:
    """A repository at `dest` (no checkout) whose only branch (HEAD) is `commit`: its history ends
    there. It borrows `src`'s objects (git alternates: nothing is copied or packed, so
    history missing some old blobs still works); objects after `commit` are unreachable
    from its refs, and a clone never receives them."""
    objects = Path(git(src, "rev-parse", "--path-format=absolute", "--git-common-dir").strip())
    missing = [
        line.split()[0]
        for line in subprocess.run(
            ["git", "-C", str(src), "cat-file", "--batch-check"],
            input="".join(
                f"{entry.split()[2]}\n"
                for entry in git(src, "ls-tree", "-r", "-z", commit).split("\0")
                if entry and entry.split()[1] == "blob"
            ),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        if line.endswith(" missing")
    ]
    if missing:
        raise ValueError(f"{src}: {len(missing)} blobs of {commit[:12]} are missing: {missing[:3]}")
    git(dest.parent, "init", "-q", str(dest))  # not bare: a local URL must hold a .git
    (dest / ".git" / "objects" / "info" / "alternates").write_text(f"{objects / 'objects'}\n")
    git(dest, "update-ref", "refs/heads/main", commit)
    git(dest, "symbolic-ref", "HEAD", "refs/heads/main")
    # As a forge does: partial clones (`--filter=blob:none`) are served, not ignored.
    git(dest, "config", "uploadpack.allowFilter", "true")
    return dest


# ---------------------------------------------------------------- metrics and local rankers


def reciprocal_rank(ranking: Sequence[str], relevant: Iterable[str]) -> float:
    wanted = set(relevant)
    for i, f in enumerate(ranking):
        if f in wanted:
            return 1.0 / (i + 1)
    return 0.0


def recall_at(ranking: Sequence[str], relevant: Iterable[str], k: int = RECALL_AT) -> float:
    wanted = set(relevant)
    return len(wanted.intersection(ranking[:k])) / len(wanted) if wanted else 0.0


@dataclass(frozen=True)
class Score:
    mrr: float
    recall: float
    queries: int


def evaluate(rankings: Mapping[str, Sequence[str]], truth: Mapping[str, Iterable[str]]) -> Score:
    """Means over every query of `truth`; a query missing from `rankings` scores 0."""
    if not truth:
        return Score(0.0, 0.0, 0)
    rr = rc = 0.0
    for q, relevant in truth.items():
        ranking = [f for f in rankings.get(q, ()) if f != q][:LIMIT]
        rel = set(relevant)
        rr += reciprocal_rank(ranking, rel)
        rc += recall_at(ranking, rel)
    return Score(rr / len(truth), rc / len(truth), len(truth))


def undirected(nodes: Iterable[str], imports: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    """The undirected import graph over `nodes` (imports of other files dropped)."""
    adjacency: dict[str, set[str]] = {n: set() for n in nodes}
    for src, targets in imports.items():
        if src not in adjacency:
            continue
        for dst in targets:
            if dst in adjacency and dst != src:
                adjacency[src].add(dst)
                adjacency[dst].add(src)
    return adjacency


def graph_distance_ranking(
    query: str, adjacency: Mapping[str, set[str]], limit: int = LIMIT
) -> list[str]:
    """Files reachable from `query`, nearest first (BFS hops); ties by Adamic-Adar
    (sum of 1/ln(degree) over common neighbours), then path."""
    if query not in adjacency:
        return []
    hops = {query: 0}
    frontier = deque([query])
    while frontier:
        u = frontier.popleft()
        for v in adjacency[u]:
            if v not in hops:
                hops[v] = hops[u] + 1
                frontier.append(v)
    mine = adjacency[query]

    def adamic_adar(v: str) -> float:
        return sum(1.0 / math.log(len(adjacency[z])) for z in mine & adjacency[v])

    found = [v for v in hops if v != query]
    found.sort(key=lambda v: (hops[v], -adamic_adar(v), v))
    return found[:limit]


def _directory(path: str) -> tuple[str, ...]:
    return PurePosixPath(path).parent.parts


def directory_distance(a: str, b: str) -> int:
    """Edges between the two files' directories in the directory tree (0: same one)."""
    da, db = _directory(a), _directory(b)
    common = 0
    for x, y in zip(da, db, strict=False):
        if x != y:
            break
        common += 1
    return len(da) + len(db) - 2 * common


def directory_ranking(query: str, files: Iterable[str], limit: int = LIMIT) -> list[str]:
    others = [f for f in files if f != query]
    others.sort(key=lambda f: (directory_distance(query, f), f))
    return others[:limit]


# ---------------------------------------------------------------- the product


def _paths(answer: Mapping[str, Any]) -> list[str]:
    return [str(r["file_path"]) for r in answer.get("results", ())]


def _du(path: Path) -> int:
    if not path.exists():
        return 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# ---------------------------------------------------------------- one repository


@dataclass
class RepoResult:
    repo: str
    group: str
    cutoff: str = ""
    window_commits: int = 0
    qualified_commits: int = 0
    files_at_t: int = 0
    files: int = 0
    queries: int = 0
    job_seconds: float = 0.0
    job_status: str = ""
    history_note: str = ""
    qdrant_bytes_per_file: float = 0.0
    modes_supported: bool = False
    default_equals_hybrid: str = ""
    wall_seconds: float = 0.0
    scores: dict[str, Score | None] = field(default_factory=dict)

    def best_single(self) -> tuple[str, float]:
        available = [(s, v.mrr) for s in SIGNALS if (v := self.scores.get(s)) is not None]
        return max(available, key=lambda kv: kv[1]) if available else ("", 0.0)

    def ratio(self) -> float | None:
        product = self.scores.get("product")
        best = self.best_single()[1]
        return product.mrr / best if product is not None and best > 0 else None

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "scores"}
        out["scores"] = {
            k: None if v is None else {"mrr": v.mrr, "recall_at_10": v.recall, "queries": v.queries}
            for k, v in self.scores.items()
        }
        best, best_mrr = self.best_single()
        out.update(best_single=best, best_single_mrr=best_mrr, ratio=self.ratio())
        return out


def run_repository(
    src: Path,
    group: str,
    window: int,
    *,
    check_sample: int,
    job_timeout_s: float,
    log: Any,
    code: Path = ROOT,
) -> tuple[RepoResult, dict[str, Any]]:
    started = time.monotonic()
    result = RepoResult(repo=str(src), group=group)
    cut = cutoff_commit(src, window)
    present = files_at(src, cut.commit)
    partners, qualified = coupling(commits_after(src, cut.commit), present)
    result.cutoff, result.window_commits = cut.commit, cut.window_commits
    result.qualified_commits, result.files_at_t = qualified, len(present)
    log(
        f"{src}: T={cut.commit[:12]}, {cut.window_commits} non-merge commits after it, "
        f"{qualified} qualify; {len(present)} files at T"
    )
    dump: dict[str, Any] = {"repo": str(src), "group": group, "commit": cut.commit}
    with tempfile.TemporaryDirectory(prefix="related-files-") as tmp:
        snap = snapshot(src, cut.commit, Path(tmp) / "repo")
        repo_url = f"file://{snap}"
        data_dir = Path(tmp) / "data"
        stack = Stack(data_dir, code)
        try:
            with stack:
                api = Api(stack)
                try:
                    _measure(
                        api, repo_url, partners, result, dump, check_sample, job_timeout_s, log
                    )
                finally:
                    api.close()
        except BaseException:
            log(f"logs kept at {_keep_logs(data_dir)}")
            raise
        if result.files:
            result.qdrant_bytes_per_file = _du(data_dir / "qdrant") / result.files
    result.wall_seconds = time.monotonic() - started
    return result, dump


def _keep_logs(data_dir: Path) -> Path:
    keep = Path(tempfile.mkdtemp(prefix="related-files-logs-"))
    for name in ("up.log", "logs"):
        src = data_dir / name
        if src.is_dir():
            shutil.copytree(src, keep / name)
        elif src.exists():
            shutil.copy(src, keep / name)
    return keep


def _measure(
    api: Api,
    repo_url: str,
    partners: Mapping[str, Counter[str]],
    result: RepoResult,
    dump: dict[str, Any],
    check_sample: int,
    job_timeout_s: float,
    log: Any,
) -> None:
    job = api.ingest(repo_url, job_timeout_s)
    repo_url = api.repo_url
    result.job_status = str(job["status"])
    result.job_seconds = float(job.get("duration_seconds") or 0.0)
    if result.job_status != "complete":
        raise RuntimeError(f"job ended {result.job_status}: {job.get('error')}")
    log(f"  job {result.job_seconds:.1f}s, {job.get('files_processed')} files")
    files = api.files(repo_url)
    nodes = [str(f["file_path"]) for f in files]
    result.files = len(nodes)
    truth = ground_truth(partners, nodes)
    result.queries = len(truth)
    adjacency = undirected(nodes, {str(f["file_path"]): f.get("imports", ()) for f in files})

    rankings: dict[str, dict[str, list[str]]] = {r: {} for r in RANKERS}
    queries = []
    timed: list[float] = []
    for i, q in enumerate(truth):
        t0 = time.perf_counter()
        default = api.similar(repo_url, q, None)
        timed.append(time.perf_counter() - t0)
        if i == 0:
            result.modes_supported = "mode" in default
            if not result.modes_supported:
                log("  the route ignores `mode`: one ranking, counted as product and structure")
        rankings["product"][q] = _paths(default)
        if result.modes_supported:
            for mode in MODES:
                rankings[mode][q] = _paths(api.similar(repo_url, q, mode))
        else:
            rankings["structure"][q] = rankings["product"][q]
        rankings["graph_distance"][q] = graph_distance_ranking(q, adjacency)
        rankings["same_directory"][q] = directory_ranking(q, nodes)
        queries.append({"file_path": q, "partners": truth[q], "hybrid": default.get("results", [])})
    dump.update(mode=default.get("mode") if truth else None, queries=queries)

    if result.modes_supported:
        sample = list(truth)[:check_sample]
        differ = [
            q
            for q in sample
            if _paths(api.similar(repo_url, q, "hybrid")) != rankings["product"][q]
        ]
        result.default_equals_hybrid = f"{len(sample) - len(differ)}/{len(sample)}"
        if differ:
            log(f"  default != mode=hybrid for {len(differ)} of {len(sample)}: {differ[:3]}")
    else:
        result.default_equals_hybrid = "n/a"
    if truth:
        history = default.get("history")
        result.history_note = "" if history is None else str(history)
    for ranker in RANKERS:
        if ranker in ("text", "history") and not result.modes_supported:
            result.scores[ranker] = None
        else:
            result.scores[ranker] = evaluate(rankings[ranker], truth)
    if timed:
        timed.sort()
        median_ms = timed[len(timed) // 2] * 1000
        log(f"  {len(timed)} default `similar` calls: median {median_ms:.0f} ms")


# ---------------------------------------------------------------- report


def _fmt(v: float | None, spec: str = ".3f") -> str:
    return "n/a" if v is None else format(v, spec)


def repo_table(r: RepoResult) -> str:
    lines = [
        f"## {r.repo} ({r.group})",
        f"T {r.cutoff[:12]}; {r.window_commits} non-merge commits after T, "
        f"{r.qualified_commits} qualifying ({MIN_FILES}-{MAX_FILES} files present at T); "
        f"{r.files_at_t} files at T, {r.files} indexed, {r.queries} query files",
        f"job {r.job_seconds:.1f} s; Qdrant {r.qdrant_bytes_per_file:,.0f} bytes/file; "
        f"default == mode=hybrid: {r.default_equals_hybrid}; history: {r.history_note or '-'}; "
        f"benchmark wall {r.wall_seconds:.0f} s",
        "",
        "| ranker | MRR | recall@10 |",
        "| --- | --- | --- |",
    ]
    for ranker in RANKERS:
        s = r.scores.get(ranker)
        lines.append(
            f"| {ranker} | {_fmt(s.mrr if s else None)} | {_fmt(s.recall if s else None)} |"
        )
    best, best_mrr = r.best_single()
    lines.append(f"\nproduct / best single ({best} {best_mrr:.3f}): {_fmt(r.ratio(), '.2f')}x")
    return "\n".join(lines)


def group_summary(results: Sequence[RepoResult]) -> dict[str, dict[str, Any]]:
    """Per group: the mean over its repositories of each ranker's MRR and recall@10,
    the product / best-single ratio of those means, and the mean of per-repo ratios."""
    groups: dict[str, list[RepoResult]] = {}
    for r in results:
        groups.setdefault(r.group, []).append(r)
    summary = {}
    for name, members in groups.items():
        means: dict[str, dict[str, float] | None] = {}
        for ranker in RANKERS:
            scored = [s for r in members if (s := r.scores.get(ranker)) is not None]
            means[ranker] = (
                {
                    "mrr": sum(s.mrr for s in scored) / len(scored),
                    "recall_at_10": sum(s.recall for s in scored) / len(scored),
                }
                if scored and len(scored) == len(members)
                else None
            )
        singles = [(s, m["mrr"]) for s in SIGNALS if (m := means[s]) is not None]
        best = max(singles, key=lambda kv: kv[1]) if singles else ("", 0.0)
        product = means["product"]
        ratios = [x for r in members if (x := r.ratio()) is not None]
        summary[name] = {
            "repos": [r.repo for r in members],
            "means": means,
            "best_single": best[0],
            "ratio_of_means": product["mrr"] / best[1] if product and best[1] > 0 else None,
            "mean_of_ratios": sum(ratios) / len(ratios) if ratios else None,
            "worst_gap_to_own_best": min(
                (p.mrr - r.best_single()[1] for r in members if (p := r.scores.get("product"))),
                default=None,
            ),
        }
    return summary


def group_table(name: str, g: Mapping[str, Any]) -> str:
    lines = [
        f"## group {name}: mean over {len(g['repos'])} repositories",
        "",
        "| ranker | MRR | recall@10 |",
        "| --- | --- | --- |",
    ]
    for ranker in RANKERS:
        m = g["means"][ranker]
        lines.append(
            f"| {ranker} | {_fmt(m['mrr'] if m else None)} | "
            f"{_fmt(m['recall_at_10'] if m else None)} |"
        )
    lines.append(
        f"\nproduct / best single ({g['best_single']}), ratio of means: "
        f"{_fmt(g['ratio_of_means'], '.2f')}x; mean of per-repo ratios: "
        f"{_fmt(g['mean_of_ratios'], '.2f')}x; product - own best single, worst repo: "
        f"{_fmt(g['worst_gap_to_own_best'], '+.3f')}"
    )
    return "\n".join(lines)


# ---------------------------------------------------------------- command line


class _RepoAction(argparse.Action):
    """`--repo PATH`, labelled with the last `--group` seen before it."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option: Any = None) -> None:
        repos = list(getattr(namespace, "repos", None) or [])
        repos.append((getattr(namespace, "group", "all"), Path(values)))
        namespace.repos = repos


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--group", default="all", help="label of the --repo options after it (default: all)")
    add("--repo", action=_RepoAction, dest="repos", required=True, help="a git repository")
    add("--window", type=int, default=400, help="non-merge commits after T (default 400)")
    add("--out", type=Path, help="write the results as JSON")
    add("--dump", type=Path, help="write each query's hybrid answer and its partners as JSON")
    add("--check-sample", type=int, default=20, help="queries checked: default == hybrid")
    add("--code", type=Path, default=ROOT, help="the checkout whose `alexandria up` runs")
    add("--job-timeout", type=float, default=1800.0, help="seconds per job (default 1800)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)

    def terminate(*_: object) -> None:
        raise SystemExit(143)  # unwinds through the stacks' stop()

    signal.signal(signal.SIGTERM, terminate)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    results: list[RepoResult] = []
    dumps: list[dict[str, Any]] = []
    for group, path in args.repos:
        result, dump = run_repository(
            path,
            group,
            args.window,
            check_sample=args.check_sample,
            job_timeout_s=args.job_timeout,
            log=log,
            code=args.code.resolve(),
        )
        results.append(result)
        dumps.append(dump)
        print(repo_table(result) + "\n", flush=True)
    summary = group_summary(results)
    for name, g in summary.items():
        print(group_table(name, g) + "\n", flush=True)
    if args.out:
        args.out.write_text(
            json.dumps(
                {"window": args.window, "repos": [r.to_json() for r in results], "groups": summary},
                indent=2,
            )
        )
    if args.dump:
        args.dump.write_text(json.dumps({"window": args.window, "repos": dumps}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
