"""Changes a local repository has that its HEAD lacks, which an ingest or a graph (both
read HEAD) leaves out. Apart from the gateway's client, so `alexandria graph` loads no
HTTP library."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def say_changes_not_indexed(repo: str) -> None:
    """One line on stderr when a local repository has changes that HEAD lacks."""
    if changed := changes_not_indexed(repo):
        print(
            f"note: {changed} changed or untracked files are not indexed, only the HEAD "
            "commit is (commit them to include them)",
            file=sys.stderr,
        )


def changes_not_indexed(repo: str) -> int:
    """How many files of local git repository `repo` differ from HEAD or are untracked
    (what an ingest, which reads HEAD, leaves out); 0 when `repo` is not one."""
    if "://" in repo or not Path(repo).is_dir():
        return 0
    done = subprocess.run(
        ["git", "-C", repo, "status", "--porcelain", "--untracked-files=normal"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return len(done.stdout.splitlines()) if done.returncode == 0 else 0
