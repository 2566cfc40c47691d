"""The whole ingest path through the stack: cold, unchanged, after a small change.

    .venv/bin/python benchmarks/ingest_path.py --repo PATH [--runs 3] [--out results.json]

Each run starts `alexandria up` in a new data dir (empty parse cache, empty Qdrant;
`product_stack.Stack`) on a working copy of the repository (`git clone --shared`, so
its objects are borrowed, nothing is copied) and ingests it through the REST API:

1. **cold**: the first ingest;
2. **unchanged**: the same commit again (it should end `unchanged`, writing nothing);
3. **small change**: one comment line appended to one source file, committed, ingested;
4. **forced**: that commit again with `force=true`, the full job on warm caches.

Per step it prints the job's `duration_seconds` and the seconds of each phase
(`phase_seconds`, both from its record), the wall time from the POST to the record
seen finished (polled every 20 ms), and whether `/graph/files` vectors changed.
Ratios, on the median over runs: unchanged against cold and against the 0.5 s target;
small change against cold. Nothing is fetched: PATH is any local git repository.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from product_stack import ROOT, Api, Stack

STEPS = ("cold", "unchanged", "small change", "forced")
PHASES = ("parse", "candidates", "train", "upload")
UNCHANGED_TARGET_S = 0.5
SOURCE_SUFFIXES = {".py": "#", ".go": "//", ".js": "//", ".ts": "//", ".java": "//"}
JOB_TIMEOUT_S = 1800.0


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=b", "-c", "user.email=b@example.com", *args],
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise RuntimeError(f"git {' '.join(args[:2])} in {repo}: {done.stderr.strip()[-300:]}")
    return done.stdout


def small_change(repo: Path) -> str:
    """Append a comment line to the first tracked source file and commit it; its path."""
    for path in sorted(git(repo, "ls-files").splitlines()):
        marker = SOURCE_SUFFIXES.get(Path(path).suffix)
        if marker is not None and (repo / path).is_file() and not (repo / path).is_symlink():
            with open(repo / path, "a") as f:
                f.write(f"\n{marker} ingest_path benchmark: a small change\n")
            git(repo, "commit", "-q", "-am", "benchmark: a small change")
            return path
    raise RuntimeError(f"{repo} has no source file to change")


def vectors_of(api: Api, repo_url: str) -> dict[str, list[float]]:
    return {f["file_path"]: f["vector"] for f in api.files(repo_url)}


def step(api: Api, repo: Path, *, force: bool = False) -> dict[str, Any]:
    started = time.perf_counter()
    job = api.ingest(f"file://{repo}", JOB_TIMEOUT_S, force=force, poll_s=0.02)
    wall = time.perf_counter() - started
    if job["status"] != "complete":
        raise RuntimeError(f"job {job['job_id']} {job['status']}: {job.get('error')}")
    return {
        "job_seconds": float(job["duration_seconds"]),
        "wall_seconds": wall,
        "unchanged": bool(job.get("unchanged")),
        "files": int(job["files_processed"]),
        "embeddings": int(job["embeddings_generated"]),
        "phases": {p: float(job["phase_seconds"].get(p, 0.0)) for p in PHASES},
    }


def one_run(source: Path, code: Path, work: Path) -> dict[str, dict[str, Any]]:
    repo = work / "repo"
    git(work, "clone", "-q", "--shared", str(source), str(repo))
    results: dict[str, dict[str, Any]] = {}
    with Stack(work / "data", code) as stack:
        api = Api(stack)
        try:
            results["cold"] = step(api, repo)
            vectors = vectors_of(api, api.repo_url)
            results["unchanged"] = step(api, repo)
            results["unchanged"]["vectors_changed"] = vectors_of(api, api.repo_url) != vectors
            changed = small_change(repo)
            results["small change"] = step(api, repo)
            results["small change"]["changed_file"] = changed
            results["forced"] = step(api, repo, force=True)
        finally:
            api.close()
    return results


def table(runs: Sequence[dict[str, dict[str, Any]]]) -> str:
    def median(name: str, key: str) -> float:
        return statistics.median(r[name][key] for r in runs)

    def phase(name: str, p: str) -> float:
        return statistics.median(r[name]["phases"][p] for r in runs)

    rows = [
        "| step | job (record) | wall | " + " | ".join(PHASES) + " | unchanged | embeddings |",
        "| --- | --- | --- | " + " | ".join("---" for _ in PHASES) + " | --- | --- |",
    ]
    for name in STEPS:
        rows.append(
            f"| {name} | {median(name, 'job_seconds'):.2f} s | {median(name, 'wall_seconds'):.2f} s"
            + "".join(f" | {phase(name, p):.2f} s" for p in PHASES)
            + f" | {runs[0][name]['unchanged']} | {runs[0][name]['embeddings']} |"
        )
    cold = median("cold", "wall_seconds")
    unchanged = median("unchanged", "wall_seconds")
    small = median("small change", "wall_seconds")
    changed = any(r["unchanged"]["vectors_changed"] for r in runs)
    rows += [
        "",
        f"files: {runs[0]['cold']['files']}; medians of {len(runs)} run(s), wall time",
        f"unchanged / cold: {unchanged / cold:.3f}x; unchanged / {UNCHANGED_TARGET_S} s target: "
        f"{unchanged / UNCHANGED_TARGET_S:.2f}x; vectors changed by it: {changed}",
        f"small change / cold: {small / cold:.2f}x",
    ]
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repo", type=Path, required=True, help="a local git repository")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose `up` runs")
    parser.add_argument("--out", type=Path, default=None, help="write the runs as JSON")
    args = parser.parse_args(argv)
    runs = []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="ingest-path-") as work:
            runs.append(one_run(args.repo.resolve(), args.code, Path(work)))
        print(f"run {i + 1}: " + json.dumps(runs[-1]), file=sys.stderr, flush=True)
    print(table(runs))
    if args.out is not None:
        args.out.write_text(json.dumps(runs, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
