"""The walk has one set of rules over any listing: for generated trees, committed to
git, walking HEAD's tree as `git ls-tree` lists it gives exactly what walking the
same files written to disk gives (and what walking the work tree gives)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from services.parser.clone import cloned_repository
from services.parser.walk import MAX_DEPTH, walk_sources

MAX_FILE_BYTES = 64
COMPONENTS = (
    "a",
    "src",
    "pkg",
    "node_modules",
    "vendor",
    "build",
    "dist",
    ".hidden",
    "-dash",
    "spaces and ü",
    "caf\udce9",  # the name's bytes are not UTF-8
)
NAMES = (
    "m.py",
    "x.pyi",
    "i.ts",
    "c.js",
    "g.go",
    "J.java",
    "notes.txt",
    "package.json",
    "tsconfig.base.json",
    "go.mod",
    "pom.xml",
    ".eslintrc.js",
    "caf\udce9.py",
    "odd name ü.py",
)
path = st.tuples(st.lists(st.sampled_from(COMPONENTS), max_size=3), st.sampled_from(NAMES)).map(
    lambda t: "/".join([*t[0], t[1]])
)
content = st.one_of(
    st.integers(0, 2 * MAX_FILE_BYTES).map(lambda n: "x" * n),  # around the size limit
    st.sampled_from(["target.py", "../outside", "/etc/passwd", "a"]).map(lambda t: ("link", t)),
)
trees = st.dictionaries(path, content, min_size=1, max_size=14)


def _write(root: Path, files: dict[str, str | tuple[str, str]]) -> None:
    taken: set[str] = set()
    for rel, body in sorted(files.items()):
        parents = {"/".join(rel.split("/")[:i]) for i in range(1, rel.count("/") + 1)}
        if parents & taken or any(other.startswith(rel + "/") for other in files):
            continue  # a file where another needs a directory
        taken.add(rel)
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(body, tuple):
            os.symlink(body[1], target)
        else:
            target.write_text(body)


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@settings(max_examples=60, deadline=None)
@given(files=trees)
def test_walking_the_listing_equals_walking_the_files(
    files: dict[str, str | tuple[str, str]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        _write(repo, files)
        _git(repo, "init", "-q", "-b", "main")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "--allow-empty", "-m", "x")
        with cloned_repository(f"file://{repo}", timeout_seconds=60) as head:
            listed = walk_sources(head.tree, max_file_bytes=MAX_FILE_BYTES)
            written = walk_sources(head.path, max_file_bytes=MAX_FILE_BYTES)
        work_tree = walk_sources(repo, max_file_bytes=MAX_FILE_BYTES)
    assert listed == written
    assert listed == work_tree


def test_the_depth_limit_is_the_same_over_a_listing(tmp_path: Path) -> None:
    deep = "/".join(["d"] * (MAX_DEPTH + 3))
    repo = tmp_path / "repo"
    (repo / deep).mkdir(parents=True)
    (repo / deep / "x.py").write_text("")
    (repo / "d" / "top.py").write_text("")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "x")
    with cloned_repository(f"file://{repo}", timeout_seconds=60) as head:
        listed = walk_sources(head.tree)
        assert listed == walk_sources(head.path)
    assert [f.path for f in listed.files] == ["d/top.py"]
    assert [why for _, why in listed.skipped] == [f"deeper than {MAX_DEPTH} directories"]
