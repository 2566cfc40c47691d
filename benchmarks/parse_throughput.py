"""Graph build vs raw tree-sitter parse, the parse cache, and a 10,000-file repository.

Run: `.venv/bin/python benchmarks/parse_throughput.py [--source DIR] [--workers N]`

1. Anchor and ours on the same files (default: the installed `torch` package's
   Python sources, ~2,300 real files): the anchor is a raw single-thread
   `Parser.parse` of every file's bytes, read beforehand; ours is `build_graph`:
   walk, read, parse, extract, resolve, in parallel. Prints anchor/ours (target ≥ 1.5).
2. Re-ingest through the parse cache (keyed by git blob id) after 1% of the files
   changed, against a cold build of the same commit. Prints the speed-up.
3. A generated 10,000-file repository in all five languages, built in a fresh
   process: wall time and peak RSS (the process and, separately, its workers).
4. The command a user runs, whole process: `alexandria graph REPO` on a git repository
   of the same files, cold (a fresh data dir: empty parse cache) and warm (every file
   in the cache), against the anchor of 1. Prints anchor/cold (target >= 1.5) and the
   warm wall time (target <= 1.0 s).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import tree_sitter_go  # noqa: E402
import tree_sitter_java  # noqa: E402
import tree_sitter_javascript  # noqa: E402
import tree_sitter_python  # noqa: E402
import tree_sitter_typescript  # noqa: E402
from tree_sitter import Language, Parser  # noqa: E402

from services.parser.cache import ParseCache  # noqa: E402
from services.parser.graph import build_graph  # noqa: E402
from services.parser.walk import walk_sources  # noqa: E402

GRAMMARS: dict[str, Callable[[], object]] = {
    ".py": tree_sitter_python.language,
    ".pyi": tree_sitter_python.language,
    ".js": tree_sitter_javascript.language,
    ".jsx": tree_sitter_javascript.language,
    ".mjs": tree_sitter_javascript.language,
    ".cjs": tree_sitter_javascript.language,
    ".ts": tree_sitter_typescript.language_typescript,
    ".mts": tree_sitter_typescript.language_typescript,
    ".cts": tree_sitter_typescript.language_typescript,
    ".tsx": tree_sitter_typescript.language_tsx,
    ".java": tree_sitter_java.language,
    ".go": tree_sitter_go.language,
}


def default_source() -> Path:
    import torch  # only to find its directory: torch's own Python sources are the corpus

    return Path(torch.__file__).parent


def raw_parse_seconds(root: Path, paths: list[str]) -> float:
    """The anchor: one thread, one parser per grammar, bytes read before the clock starts."""
    parsers = {ext: Parser(Language(load())) for ext, load in GRAMMARS.items()}
    blobs = [(parsers[os.path.splitext(p)[1].lower()], (root / p).read_bytes()) for p in paths]
    started = time.perf_counter()
    for parser, data in blobs:
        parser.parse(data)
    return time.perf_counter() - started


def best_of(runs: int, measure: Callable[[], float]) -> float:
    return min(measure() for _ in range(runs))


def build_seconds(root: Path, workers: int | None, **kwargs: object) -> float:
    started = time.perf_counter()
    build_graph(root, workers=workers, **kwargs)  # type: ignore[arg-type]
    return time.perf_counter() - started


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=b", "-c", "user.email=b@b", "-c", "gc.auto=0", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def head_blobs(repo: Path) -> dict[str, str]:
    listing = git(repo, "ls-tree", "-r", "-z", "HEAD")
    blobs = {}
    for entry in listing.split("\0"):
        if entry:
            meta, path = entry.split("\t", 1)
            blobs[path] = meta.split()[2]
    return blobs


def section_throughput(source: Path, workers: int | None, runs: int) -> None:
    paths = [f.path for f in walk_sources(source).files]
    size = sum((source / p).stat().st_size for p in paths)
    print(f"corpus: {source} — {len(paths)} source files, {size / 1e6:.1f} MB")
    raw = best_of(runs, lambda: raw_parse_seconds(source, paths))
    ours = best_of(runs, lambda: build_seconds(source, workers))
    graph = build_graph(source, workers=workers)
    print(f"  anchor  raw single-thread tree-sitter parse : {raw:7.3f} s")
    print(
        f"  ours    full graph build ({workers or os.cpu_count()} workers)     : {ours:7.3f} s"
        f"   ({graph.stats.edges} edges, {graph.stats.unresolved} unresolved)"
    )
    print(f"  ratio   anchor / ours = {raw / ours:.2f}x   (target >= 1.5x)")


def section_cache(source: Path, workers: int | None) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as tmp:
        repo = Path(tmp) / "repo"
        committed_copy(source, repo)
        cache = ParseCache(Path(tmp) / "cache.sqlite3")
        cold = build_seconds(repo, workers, blobs=head_blobs(repo), cache=cache)
        files = [f.path for f in walk_sources(repo).files]
        changed = files[:: max(1, len(files) // max(1, len(files) // 100))][: len(files) // 100]
        for path in changed:
            with open(repo / path, "a") as handle:
                handle.write("\n# edited\n")
        git(repo, "commit", "-q", "-am", "v2")
        warm = build_seconds(repo, workers, blobs=head_blobs(repo), cache=cache)
        uncached = build_seconds(repo, workers)
    print(f"re-ingest after {len(changed)} of {len(files)} files changed (parse cache by blob id)")
    print(f"  cold build, empty cache  : {cold:7.3f} s")
    print(f"  no cache                 : {uncached:7.3f} s")
    print(f"  with cache               : {warm:7.3f} s")
    print(f"  speed-up no cache / with cache = {uncached / warm:.1f}x")


def committed_copy(source: Path, repo: Path) -> None:
    """`source`'s files as the one commit of a new git repository at `repo`, packed as a
    clone's or any `git gc`'d repository's objects are (loose, each of the ~12,000 blobs'
    sizes that `git ls-tree -l` lists is a file to open and inflate: +0.25 s a run)."""
    shutil.copytree(source, repo, ignore=shutil.ignore_patterns("__pycache__"))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "v1")
    git(repo, "gc", "-q")


def cli_graph_seconds(repo: Path, data_dir: Path, workers: int | None) -> float:
    """Wall time of `alexandria graph REPO --json` in a new process, start-up included."""
    command = [sys.executable, "-m", "alexandria.cli", "graph", str(repo), "--json"]
    if workers:
        command += ["--workers", str(workers)]
    env = {**os.environ, "ALEXANDRIA_DATA_DIR": str(data_dir)}
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - started


def section_cli(source: Path, workers: int | None, runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        repo = Path(tmp) / "repo"
        committed_copy(source, repo)
        paths = [f.path for f in walk_sources(repo).files]
        raw = best_of(runs, lambda: raw_parse_seconds(repo, paths))
        colds, warms = [], []
        for run in range(runs):
            data_dir = Path(tmp) / f"data-{run}"  # fresh: an empty parse cache
            colds.append(cli_graph_seconds(repo, data_dir, workers))
            warms.append(cli_graph_seconds(repo, data_dir, workers))
    cold, warm = min(colds), min(warms)
    print(f"`alexandria graph` on a git repository of the {len(paths)} files, whole process")
    print(f"  anchor  raw single-thread tree-sitter parse : {raw:7.3f} s")
    print(f"  cold    (empty parse cache), best of {runs}    : {cold:7.3f} s")
    print(f"  warm    (every file cached), best of {runs}    : {warm:7.3f} s")
    print(f"  ratio   anchor / cold = {raw / cold:.2f}x   (target >= 1.5x)")
    print(f"  ratio   1.0 s / warm  = {1.0 / warm:.2f}x   (target >= 1: warm <= 1.0 s)")


def generate_repo(root: Path, files: int) -> None:
    """`files` source files, a fifth per language, ~8 per directory (package), each
    importing three others of its kind."""
    per = files // 5
    dirs = max(1, per // 8)
    body_py = "".join(f"def f{i}(x):\n    return x * {i}\n\n" for i in range(40))
    body_js = "".join(f"export function f{i}(x) {{ return x * {i}; }}\n" for i in range(40))
    body_java = "".join(f"    int f{i}(int x) {{ return x * {i}; }}\n" for i in range(40))
    body_go = "".join(f"func F{i}(x int) int {{ return x * {i} }}\n" for i in range(40))
    _write(root / "go.mod", "module example.com/gen\n\ngo 1.22\n")
    for i in range(per):
        peers = [(i * 7 + k) % per for k in (1, 2, 3)]
        d = i % dirs
        py_imports = "".join(f"from py.p{j % dirs} import m{j}\n" for j in peers)
        _write(root / f"py/p{d}/m{i}.py", py_imports + "import os\n" + body_py)
        js_imports = "".join(
            f"import {{ f1 as g{j} }} from '../d{j % dirs}/m{j}.js';\n" for j in peers
        )
        _write(root / f"js/d{d}/m{i}.js", js_imports + body_js)
        ts_imports = "".join(
            f"import {{ f1 as g{j} }} from '../d{j % dirs}/m{j}';\n" for j in peers
        )
        _write(
            root / f"ts/d{d}/m{i}.ts", ts_imports + body_js.replace("(x)", "(x: number): number")
        )
        java_imports = "".join(f"import gen.p{j % dirs}.C{j};\n" for j in peers)
        fields = "".join(f"    C{j} c{j};\n" for j in peers)
        _write(
            root / f"java/gen/p{d}/C{i}.java",
            f"package gen.p{d};\n\n{java_imports}\npublic class C{i} {{\n{fields}{body_java}}}\n",
        )
        go_imports = "".join(
            f'\tq{j} "example.com/gen/go/g{j % dirs}"\n' for j in peers if j % dirs != d
        )
        _write(root / f"go/g{d}/m{i}.go", f"package g{d}\n\nimport (\n{go_imports})\n\n{body_go}")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _status_kib(pid: int, field: str) -> int:
    """A `kB` field of /proc/PID/status (0 if the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _rss_kib_of_tree(root_pid: int) -> int:
    """VmRSS of `root_pid` and all its descendants (forkserver, workers), from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = {root_pid}, [root_pid]
    while frontier:
        pid = frontier.pop()
        children = [child for child, parent in parents.items() if parent == pid]
        tree.update(children)
        frontier.extend(children)
    return sum(_status_kib(pid, "VmRSS:") for pid in tree)


def child_build(root: Path, workers: int | None) -> None:
    """Runs in a fresh process: build once, print time and peak RSS as JSON."""
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], _rss_kib_of_tree(os.getpid()))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    graph = build_graph(root, workers=workers)
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "files": graph.stats.files_parsed,
                "edges": graph.stats.edges,
                "unresolved": graph.stats.unresolved,
                "errors": len(graph.errors),
                # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so it would
                # report the (torch-sized) parent that started this process.
                "peak_rss_kib": _status_kib(os.getpid(), "VmHWM:"),
                "peak_tree_rss_kib": peak[0],
            }
        )
    )


def section_generated(files: int, workers: int | None) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-gen-") as tmp:
        root = Path(tmp)
        generate_repo(root, files)
        command = [sys.executable, __file__, "--child-build", str(root)]
        if workers:
            command += ["--workers", str(workers)]
        started = time.perf_counter()
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        wall = time.perf_counter() - started
        raw_paths = [f.path for f in walk_sources(root).files]
        raw = raw_parse_seconds(root, raw_paths)
    result = json.loads(out)
    print(f"generated repository: {result['files']} files in 5 languages")
    print(
        f"  build {result['seconds']:.2f} s (process wall incl. start-up {wall:.2f} s), "
        f"{result['edges']} edges, {result['unresolved']} unresolved, {result['errors']} errors"
    )
    print(
        f"  peak RSS: main process {result['peak_rss_kib'] / 1024:.0f} MiB; main, forkserver "
        f"and workers together {result['peak_tree_rss_kib'] / 1024:.0f} MiB (sampled every 50 ms)"
    )
    print(
        f"  raw single-thread parse of the same files: {raw:.2f} s, "
        f"ratio {raw / result['seconds']:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="directory to measure (default: torch)")
    parser.add_argument("--workers", type=int, default=None, help="default: all cores")
    parser.add_argument("--runs", type=int, default=3, help="best of N for section 1")
    parser.add_argument("--generated-files", type=int, default=10_000)
    parser.add_argument(
        "--sections",
        default="throughput,cache,generated,cli",
        help="comma-separated subset of: throughput (1.), cache (2.), generated (3.), cli (4.)",
    )
    parser.add_argument("--child-build", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_build:
        child_build(args.child_build, args.workers)
        return
    print(f"cores: {len(os.sched_getaffinity(0))}, python {sys.version.split()[0]}")
    sections = set(args.sections.split(","))
    source = (args.source or default_source()).resolve()
    if "throughput" in sections:
        section_throughput(source, args.workers, args.runs)
    if "cache" in sections:
        section_cache(source, args.workers)
    if "cli" in sections:
        section_cli(source, args.workers, args.runs)
    if "generated" in sections:
        section_generated(args.generated_files, args.workers)


if __name__ == "__main__":
    main()
