"""Co-change history: commit file lists (a partial clone's, or a local source's read in
place), coupled pairs, and no history."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from parser_helpers import git, write_tree

from neo_alexandria.v1 import graph_pb2
from services.common.config import Settings
from services.parser.client import GraphStreamError, ParsedGraph, _append_chunk
from services.parser.clone import cloned_repository
from services.parser.graph import RepoGraph, build_graph, to_chunks
from services.parser.history import Commit, History, cochanges, parse_log
from services.parser.source import graph_of

T0 = 1_700_000_000


def _commit(repo: Path, files: dict[str, str], message: str, when: int) -> None:
    write_tree(repo, files)
    git(repo, "add", "-A")
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", message],
        cwd=repo,
        check=True,
        env={**os.environ, "GIT_COMMITTER_DATE": f"@{T0 + when} +0000"},
    )


@pytest.fixture
def history_repo(tmp_path: Path) -> Path:
    """Known answers: a.py and b.py always change together (b.py later renamed to
    b2.py), c/d/e once, and one 20-file commit that must be ignored."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    big = {f"big/m{i:02d}.py": f"X{i} = 0\n" for i in range(18)}
    base = {name: "" for name in ("a.py", "b.py", "c.py", "d.py", "e.py")}
    _commit(repo, {**base, **big}, "init", 1_000)
    for step in range(3):
        _commit(repo, {"a.py": f"A = {step}\n", "b.py": f"B = {step}\n"}, "a+b", 2_000 + step)
    _commit(repo, {"a.py": "A = 10\n", "c.py": "C = 1\n"}, "a+c", 3_000)
    _commit(repo, {"c.py": "C = 2\n", "d.py": "D = 2\n", "e.py": "E = 2\n"}, "c+d+e", 4_000)
    git(repo, "mv", "b.py", "b2.py")
    _commit(repo, {}, "rename b", 5_000)
    _commit(repo, {"a.py": "A = 20\n", "b2.py": "B = 20\n"}, "a+b2", 6_000)
    _commit(
        repo, {**{p: "Y = 1\n" for p in big}, "a.py": "A = 30\n", "d.py": "D = 3\n"}, "bulk", 7_000
    )
    return repo


def _pairs(graph: RepoGraph) -> dict[tuple[str, str], tuple[float, int, int]]:
    paths = [node.path for node in graph.nodes]
    return {(paths[s], paths[t]): (w, c, last) for s, t, w, c, last in graph.cochanges}


@pytest.mark.parametrize("in_place", [True, False], ids=["in-place", "partial-clone"])
def test_coupled_files_renames_and_huge_commits(history_repo: Path, in_place: bool) -> None:
    with cloned_repository(
        f"file://{history_repo}",
        timeout_seconds=60,
        history_commits=100,
        direct=in_place,
    ) as repo:
        assert repo.history.note == ""
        assert len(repo.history.commits) == 9
        graph = build_graph(repo.path, workers=1, history=repo.history, cochange_max_files=15)
    pairs = _pairs(graph)
    # a.py changed with b.py three times before the rename and once after: one pair
    assert pairs[("a.py", "b2.py")] == (4.0, 4, T0 + 6_000)
    assert pairs[("a.py", "c.py")] == (1.0, 1, T0 + 3_000)
    for pair in (("c.py", "d.py"), ("c.py", "e.py"), ("d.py", "e.py")):
        assert pairs[pair] == (0.5, 1, T0 + 4_000)
    strongest = max(pairs.items(), key=lambda item: item[1][0])
    assert strongest[0] == ("a.py", "b2.py")
    assert ("a.py", "d.py") not in pairs  # only together in the 20-file commit
    assert not any("big/" in a or "big/" in b for a, b in pairs)
    assert graph.stats.history_commits == 9 and graph.stats.history_note == ""


def test_the_partial_clone_fetches_no_old_file_contents(history_repo: Path) -> None:
    # A file:// source read through upload-pack with filters allowed stands in for a forge.
    with cloned_repository(
        f"file://{history_repo}", timeout_seconds=60, history_commits=100, direct=False
    ) as repo:
        listing = git(repo.path, "rev-list", "--objects", "--all", "--missing=print")
        missing = {line[1:] for line in listing.splitlines() if line.startswith("?")}
        head = set(repo.blobs.values())
        assert (repo.path / "a.py").read_text() == "A = 30\n"
        assert (repo.path / "b2.py").read_text() == "B = 20\n"
    everything = git(history_repo, "rev-list", "--objects", "--all").splitlines()
    blobs = {
        oid
        for oid, *_ in (line.split(" ", 1) for line in everything)
        if git(history_repo, "cat-file", "-t", oid) == "blob"
    }
    assert missing == blobs - head  # every old version, and nothing else, left behind
    assert missing


def test_a_shallow_boundary_is_not_a_commit(history_repo: Path) -> None:
    with cloned_repository(
        f"file://{history_repo}", timeout_seconds=60, history_commits=3, direct=False
    ) as repo:
        assert (repo.path / ".git" / "shallow").exists()
        commits = repo.history.commits
    # depth 3 brings bulk, a+b2 and the rename; the rename commit is the boundary
    assert [c.time - T0 for c in commits] == [7_000, 6_000]


def test_a_local_source_is_read_directly_and_its_log_in_place(history_repo: Path) -> None:
    with cloned_repository(f"file://{history_repo}", timeout_seconds=60, history_commits=3) as repo:
        assert not (repo.path / ".git").exists()  # HEAD's files only, no clone
        # the source is not shallow: its last three commits all count
        assert [c.time - T0 for c in repo.history.commits] == [7_000, 6_000, 5_000]


def test_one_commit_gives_no_history_and_says_so(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    repo = make_repo({"a.py": "import b\n", "b.py": ""})
    settings = Settings(alexandria_data_dir=tmp_path / "data")
    built = graph_of(str(repo), settings, use_cache=False, workers=1)
    assert built.graph.cochanges == []
    assert built.graph.stats.history_commits == 0
    assert built.graph.stats.history_note == "no history: the repository has one commit"


def test_history_can_be_turned_off(history_repo: Path) -> None:
    with cloned_repository(f"file://{history_repo}", timeout_seconds=60, history_commits=0) as repo:
        assert repo.history == History(note="no history: ALEXANDRIA_HISTORY_MAX_COMMITS is 0")


def test_parse_log_follows_renames_and_tells_recreated_paths_apart() -> None:
    log = (
        b"\x01c5 500\0\nM\0new.py\0M\0other.py\0"
        b"\x01c4 400\0\nR100\0old.py\0new.py\0"
        b"\x01c3 300\0\nM\0old.py\0M\0other.py\0"
        b"\x01c2 200\0\nD\0gone.py\0"
        b"\x01c1 100\0\nA\0gone.py\0A\0old.py\0"
        b"\x01c0 50\0\nA\0everything.py\0"
    )
    history = parse_log(log, frozenset({b"c0"}))
    assert history.commits == (
        Commit(500, ("new.py", "other.py")),
        Commit(400, ("new.py",)),
        Commit(300, ("new.py", "other.py")),
        Commit(200, ("gone.py",)),
        Commit(100, ("new.py",)),
    )
    cut = parse_log(
        log[: log.index(b"\x01c1")] + b"\x01c1 100\0\nA\0gon", frozenset(), complete=False
    )
    assert [c.time for c in cut.commits] == [500, 400, 300, 200]


def test_each_file_keeps_its_strongest_partners_and_either_side_keeps_a_pair() -> None:
    history = History(
        (
            *[Commit(1, ("a", "b"))] * 3,
            *[Commit(2, ("b", "c"))] * 2,
            Commit(3, ("a", "c")),
        )
    )
    kept = cochanges(history, ["a", "b", "c"], max_files=15, partners=1)
    # a's best is b, b's best is a, c's best is b: a-c is nobody's first choice
    assert [(s, t) for s, t, *_ in kept] == [(0, 1), (1, 2)]
    hub = History(tuple(Commit(i, ("hub", f"f{i}")) for i in range(25)))
    paths = ["hub", *(f"f{i}" for i in range(25))]
    assert len(cochanges(hub, paths, max_files=15)) == 25  # each is its partner's best


def test_cochanges_travel_through_chunks_and_are_validated() -> None:
    graph = RepoGraph(
        nodes=[graph_pb2.FileNode(path=p) for p in ("a.py", "b.py", "c.py")],
        cochanges=[(0, 1, 2.5, 3, 1_700_000_000), (1, 2, 0.5, 1, 1_600_000_000)],
    )
    received = ParsedGraph(repo_url="r", commit="c")
    for chunk in to_chunks(graph, max_nodes=1, max_edges=1):
        _append_chunk(received, chunk)
    assert received.cochanges == graph.cochanges
    bad = graph_pb2.GraphChunk()
    bad.cochanges.add(source=0, target=7, weight=1.0, commits=1)
    with pytest.raises(GraphStreamError):
        _append_chunk(ParsedGraph(repo_url="r", commit="c"), bad)


@pytest.mark.parametrize("in_place", [True, False], ids=["in-place", "partial-clone"])
def test_history_that_cannot_be_read_leaves_the_clone_and_says_why(
    history_repo: Path, tmp_path: Path, in_place: bool
) -> None:
    """An old commit's tree is lost from the source (a damaged repository): HEAD still
    clones and parses, and the history is none, with git's reason."""
    first = git(history_repo, "rev-list", "--max-parents=0", "HEAD")
    tree = git(history_repo, "rev-parse", f"{first}^{{tree}}")
    (history_repo / ".git" / "objects" / tree[:2] / tree[2:]).unlink()
    with cloned_repository(
        f"file://{history_repo}",
        timeout_seconds=60,
        history_commits=50,
        direct=in_place,
    ) as repo:
        assert (repo.path / "a.py").read_text() == "A = 30\n"
        assert repo.history.commits == ()
        note = repo.history.note
        # read in place, `git log` fails; cloned, the source cannot serve the history
        why = "git log failed:" if in_place else "it could not be fetched (git clone"
        assert note.startswith(f"no history: {why}"), note
        assert note.isprintable()  # git's NUL and escape bytes are not copied
