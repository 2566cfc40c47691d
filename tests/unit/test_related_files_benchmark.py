"""The pure parts of benchmarks/related_files.py on a generated git repository: the choice
of T, the ground truth, the snapshot the product ingests, the metrics and the local
rankers. No stack runs here and no dev repository is needed."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from git_repos import git

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "related_files", ROOT / "benchmarks" / "related_files.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


rf = _load()


def _commit(repo: Path, message: str, files: dict[str, str | None]) -> str:
    """Write (or delete, for None) `files` and commit them; return the commit id."""
    for rel, text in files.items():
        path = repo / rel
        if text is None:
            git(repo, "rm", "-q", rel)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        git(repo, "add", rel)
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> dict[str, str]:
    """root -> a (main) -> feature: f1, f2 / main: m1 -> merge (first parent m1) -> n1.

    Non-merge commits after each mainline commit: n1 0, merge 1, m1 3 (n1, f1, f2),
    a 4, root 5."""
    path = tmp_path / "src"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    ids = {"path": str(path)}
    ids["root"] = _commit(
        path,
        "root",
        {
            "pkg/a.py": "import pkg.b\n",
            "pkg/b.py": "x = 1\n",
            "pkg/c.py": "y = 2\n",
            "pkg/sub/d.py": "z = 3\n",
            "docs/readme.md": "hi\n",
            "old.py": "o = 1\n",
        },
    )
    ids["a"] = _commit(path, "a", {"pkg/a.py": "import pkg.b\n# a\n"})
    git(path, "checkout", "-q", "-b", "feature")
    # f1: a and b together (qualifies); f2: c alone (one file: does not qualify)
    ids["f1"] = _commit(path, "f1", {"pkg/a.py": "import pkg.b\n# f1\n", "pkg/b.py": "x = 2\n"})
    ids["f2"] = _commit(path, "f2", {"pkg/c.py": "y = 3\n"})
    git(path, "checkout", "-q", "main")
    # m1: d, readme, and a file that did not exist before (only two present files count)
    ids["m1"] = _commit(
        path, "m1", {"pkg/sub/d.py": "z = 4\n", "docs/readme.md": "ho\n", "new.py": "n\n"}
    )
    git(path, "merge", "-q", "--no-ff", "-m", "merge feature", "feature")
    ids["merge"] = git(path, "rev-parse", "HEAD")
    # n1: renames old.py (its old path is touched) alongside b
    git(path, "mv", "old.py", "renamed.py")
    ids["n1"] = _commit(path, "n1", {"pkg/b.py": "x = 5\n"})
    return ids


def test_cutoff_is_on_the_mainline_before_the_window(repo: dict[str, str]) -> None:
    src = Path(repo["path"])
    cut = rf.cutoff_commit(src, 3)
    # f2 is the third-newest non-merge commit, but T is the mainline commit before them
    assert (cut.commit, cut.window_commits, cut.mainline_index) == (repo["m1"], 3, 2)
    assert rf.cutoff_commit(src, 2).commit == repo["m1"]  # merge..HEAD has only n1
    assert rf.cutoff_commit(src, 1).commit == repo["merge"]
    assert rf.cutoff_commit(src, 4).commit == repo["a"]
    assert rf.cutoff_commit(src, 5) == rf.Cutoff(repo["root"], 5, 4)
    with pytest.raises(ValueError, match="fewer than 6"):
        rf.cutoff_commit(src, 6)


def test_ground_truth_counts_commits_touching_2_to_15_present_files(
    repo: dict[str, str],
) -> None:
    src = Path(repo["path"])
    present = rf.files_at(src, repo["a"])
    assert present == {
        "pkg/a.py",
        "pkg/b.py",
        "pkg/c.py",
        "pkg/sub/d.py",
        "docs/readme.md",
        "old.py",
    }
    commits = rf.commits_after(src, repo["a"])
    assert len(commits) == 4  # n1, m1, f2, f1: the merge is left out
    assert sorted(map(sorted, commits)) == sorted(
        [
            ["old.py", "pkg/b.py", "renamed.py"],
            ["docs/readme.md", "new.py", "pkg/sub/d.py"],
            ["pkg/c.py"],
            ["pkg/a.py", "pkg/b.py"],
        ]
    )
    partners, qualified = rf.coupling(commits, present)
    assert qualified == 3  # f2 touches one present file
    assert partners == {
        "pkg/a.py": Counter({"pkg/b.py": 1}),
        "pkg/b.py": Counter({"pkg/a.py": 1, "old.py": 1}),
        "old.py": Counter({"pkg/b.py": 1}),
        "pkg/sub/d.py": Counter({"docs/readme.md": 1}),
        "docs/readme.md": Counter({"pkg/sub/d.py": 1}),
    }
    # Queries and partners keep to the indexed files; a query left alone (d) is dropped.
    truth = rf.ground_truth(partners, ["pkg/a.py", "pkg/b.py", "pkg/c.py", "pkg/sub/d.py"])
    assert truth == {"pkg/a.py": {"pkg/b.py": 1}, "pkg/b.py": {"pkg/a.py": 1}}
    many = rf.ground_truth({"q": Counter({"x": 1, "y": 3, "q": 2})}, ["q", "x", "y"])
    assert list(many["q"].items()) == [("y", 3), ("x", 1)]  # strongest first, never itself


def test_coupling_bounds_and_repeats() -> None:
    present = {f"f{i}" for i in range(20)}
    commits = [
        [f"f{i}" for i in range(16)],  # 16 files: a mass change, ignored
        [f"f{i}" for i in range(15)],  # 15: counts
        ["f0", "f1"],
        ["f0", "f1", "gone"],
        ["f0"],
    ]
    partners, qualified = rf.coupling(commits, present)
    assert qualified == 3
    assert partners["f0"]["f1"] == 3
    assert partners["f0"]["f14"] == 1
    assert "f15" not in partners
    assert "f0" not in partners["f0"]


def test_snapshot_ends_history_at_t(repo: dict[str, str], tmp_path: Path) -> None:
    src = Path(repo["path"])
    snap = rf.snapshot(src, repo["m1"], tmp_path / "snap")
    assert (snap / ".git").is_dir()  # a local repository URL needs one
    assert git(snap, "rev-parse", "HEAD") == repo["m1"]
    assert git(snap, "for-each-ref", "--format=%(refname)") == "refs/heads/main"
    # A partial, shallow clone, as the parser makes, sees T and its past only.
    clone = tmp_path / "clone"
    subprocess.run(
        [
            "git",
            "-c",
            "protocol.file.allow=always",
            "clone",
            "-q",
            "--filter=blob:none",
            "--depth",
            "50",
            f"file://{snap}",
            str(clone),
        ],
        check=True,
        capture_output=True,
    )
    log = git(clone, "log", "--format=%s").splitlines()
    assert log == ["m1", "a", "root"]
    assert (clone / "new.py").exists() and not (clone / "renamed.py").exists()


def test_snapshot_refuses_a_t_whose_files_are_missing(repo: dict[str, str], tmp_path: Path) -> None:
    src = Path(repo["path"])
    blob = git(src, "rev-parse", f"{repo['root']}:docs/readme.md")
    git(src, "repack", "-q", "-a", "-d")
    packs = list((src / ".git" / "objects" / "pack").glob("*.pack"))
    # Drop the blob: rewrite the pack without it (as a mirror that left a file out).
    keep = [
        line.split()[0]
        for line in git(src, "rev-list", "--objects", "--all").splitlines()
        if line.split()[0] != blob
    ]
    subprocess.run(
        ["git", "-C", str(src), "pack-objects", "-q", str(src / ".git/objects/pack/pack")],
        input="\n".join(keep) + "\n",
        text=True,
        check=True,
        capture_output=True,
    )
    for pack in packs:
        pack.unlink()
        pack.with_suffix(".idx").unlink()
    with pytest.raises(ValueError, match="1 blobs of"):
        rf.snapshot(src, repo["root"], tmp_path / "snap")


def test_metrics() -> None:
    assert rf.reciprocal_rank(["x", "y", "z"], {"z"}) == pytest.approx(1 / 3)
    assert rf.reciprocal_rank(["x"], {"z"}) == 0.0
    ranking = [f"f{i}" for i in range(20)]
    assert rf.recall_at(ranking, {"f0", "f9", "f10", "zz"}) == 0.5
    score = rf.evaluate(
        {
            "q1": ["q1", "a", "b"],  # the query file itself never counts
            "q2": ["c", "d"],
        },
        {"q1": {"b"}, "q2": {"zz"}, "q3": {"a"}},  # q3: no answer at all
    )
    assert score == rf.Score(mrr=pytest.approx(0.5 / 3), recall=pytest.approx(1 / 3), queries=3)
    assert rf.evaluate({}, {}) == rf.Score(0.0, 0.0, 0)
    # Every ranking is cut to the route's limit before scoring.
    long = [f"f{i}" for i in range(rf.LIMIT + 5)]
    assert rf.evaluate({"q": long}, {"q": {long[-1]}}).mrr == 0.0


def test_graph_distance_ranking() -> None:
    # q - a - x, q - b - x, q - c - y, a - y; lone is unreachable; "out" is not a node.
    imports = {"q": ["a", "b", "c", "out"], "a": ["x", "y"], "b": ["x"], "c": ["y"], "lone": []}
    adjacency = rf.undirected(["q", "a", "b", "c", "x", "y", "lone"], imports)
    assert adjacency["a"] == {"q", "x", "y"}
    ranking = rf.graph_distance_ranking("q", adjacency)
    # hop 1: a (deg 3), b (2), c (2): common neighbours with q: none for any -> by path.
    # hop 2: x via a, b: 1/ln 3 + 1/ln 2; y via a, c: the same -> by path.
    assert ranking == ["a", "b", "c", "x", "y"]
    # Adamic-Adar breaks a tie: z shares hub h (degree 4) with q, w shares two smaller ones.
    imports = {"q": ["h", "m", "n"], "h": ["z", "w", "k"], "w": ["m", "n"]}
    adjacency = rf.undirected(["q", "h", "m", "n", "z", "w", "k"], imports)
    ranking = rf.graph_distance_ranking("q", adjacency)
    assert ranking[:3] == ["h", "m", "n"]
    assert ranking[3:] == ["w", "k", "z"]  # w: 1/ln 4 + 2/ln 2; k, z: 1/ln 4 -> by path
    assert rf.graph_distance_ranking("missing", adjacency) == []
    assert len(rf.graph_distance_ranking("q", adjacency, limit=2)) == 2


def test_directory_ranking() -> None:
    files = ["a/b/q.py", "a/b/z.py", "a/b/c/d.py", "a/y.py", "a/e/f.py", "top.py", "a/b/a.py"]
    assert rf.directory_distance("a/b/q.py", "a/e/f.py") == 2
    assert rf.directory_distance("top.py", "a/b/q.py") == 2
    assert rf.directory_ranking("a/b/q.py", files) == [
        "a/b/a.py",
        "a/b/z.py",  # same directory, by path
        "a/b/c/d.py",
        "a/y.py",  # one step
        "a/e/f.py",
        "top.py",  # two steps
    ]


def test_groups_label_the_repos_after_them() -> None:
    args = rf.parse_args(
        [
            "--repo",
            "r0",
            "--group",
            "tune",
            "--repo",
            "r1",
            "--repo",
            "r2",
            "--group",
            "held-out",
            "--repo",
            "r3",
            "--window",
            "50",
        ]
    )
    assert args.repos == [
        ("all", Path("r0")),
        ("tune", Path("r1")),
        ("tune", Path("r2")),
        ("held-out", Path("r3")),
    ]
    assert args.window == 50


def test_group_summary_and_ratio() -> None:
    def result(name: str, group: str, product: float, text: float | None) -> Any:
        r = rf.RepoResult(repo=name, group=group)
        r.scores = {k: rf.Score(0.1, 0.1, 5) for k in rf.RANKERS}
        r.scores["product"] = rf.Score(product, 0.5, 5)
        r.scores["text"] = None if text is None else rf.Score(text, 0.4, 5)
        return r

    results = [
        result("r1", "tune", 0.6, 0.5),
        result("r2", "tune", 0.4, 0.5),
        result("r3", "held-out", 0.3, None),
    ]
    assert results[0].ratio() == pytest.approx(1.2)
    summary = rf.group_summary(results)
    tune = summary["tune"]
    assert tune["means"]["product"]["mrr"] == pytest.approx(0.5)
    assert tune["best_single"] == "text"
    assert tune["ratio_of_means"] == pytest.approx(1.0)
    assert tune["mean_of_ratios"] == pytest.approx((1.2 + 0.8) / 2)
    assert tune["worst_gap_to_own_best"] == pytest.approx(-0.1)
    held = summary["held-out"]
    assert held["means"]["text"] is None  # n/a where a signal was not measured
    assert held["best_single"] == "structure"  # 0.1, the first of the ties
    assert held["ratio_of_means"] == pytest.approx(3.0)
    assert "| product | 0.300 | 0.500 |" in rf.group_table("held-out", held)
