"""What a re-parse fetches through a clone: blobs in the clone, and seconds, cold then warm.

    .venv/bin/python benchmarks/reparse_fetch.py --repo PATH [--history 0] [--warm-runs 2]

PATH (any local git repository) is read as a remote is: a `file://` URL cloned
(`direct=False`), then the graph built the way `source.repository_graph` builds it,
first with an empty parse cache, then again on the warm cache. After each build the
clone's blobs are counted (`git cat-file --batch-all-objects`): the blobs it fetched.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from services.parser.cache import ParseCache
from services.parser.clone import cloned_repository
from services.parser.source import head_graph


def blobs_in(repository: Path) -> int:
    listing = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch-check"],
        cwd=repository,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sum(line.split()[1] == "blob" for line in listing.splitlines())


def build(url: str, cache: ParseCache, history: int) -> tuple[float, int, int, int]:
    """Seconds, blobs in the clone, files from the cache, files at HEAD."""
    started = time.monotonic()
    with cloned_repository(
        url,
        timeout_seconds=3600,
        direct=False,
        history_commits=history,
        max_bytes=4 << 30,
        read_all=False,
    ) as head:
        graph = head_graph(head, cache=cache)
        assert head.repository is not None
        held = blobs_in(head.repository)
    return time.monotonic() - started, held, graph.stats.files_cached, len(head.blobs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True)
    parser.add_argument("--history", type=int, default=0, help="commits of history (0: none)")
    parser.add_argument("--warm-runs", type=int, default=2)
    args = parser.parse_args()
    url = f"file://{args.repo.resolve()}"
    with tempfile.TemporaryDirectory() as data:
        cache = ParseCache(Path(data) / "parse-cache.sqlite3")
        for label in ["cold"] + ["warm"] * args.warm_runs:
            seconds, held, cached, files = build(url, cache, args.history)
            print(
                f"{label}: {seconds:.2f} s; blobs in the clone: {held} "
                f"(HEAD has {files} files); files from the cache: {cached}"
            )


if __name__ == "__main__":
    main()
