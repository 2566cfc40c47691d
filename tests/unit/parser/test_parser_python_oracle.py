"""Differential test: our Python import graph against grimp's (the engine of import-linter).

Installed packages are copied into one temporary repository (each top-level package at
its root) and graphed by `build_graph`; grimp graphs the installed originals. The two
are compared as directed file → file edge sets, self-edges left out, each package by
the edges leaving its files: all edges (kinds ignored), then runtime edges only (our
IMPORT kind against grimp with `exclude_type_checking_imports=True`).

Where the two may rightly differ the comparison leaves that out, narrowly, and a
test checks that neither side misses any other file:

- Files our walk skips (under `vendor/` and the other `walk.SKIP_DIRS`, or recorded in
  the graph's errors, e.g. over 1 MiB) are no nodes of ours: grimp's edges touching
  them are not compared.
- grimp reads only `.py` files of regular packages. `.pyi` stubs and the modules of a
  directory without `__init__.py` (a namespace package, an examples directory) are no
  modules of its, so our edges touching them are not compared. And where we resolve an
  import to a stub (`from numpy.linalg import _umath_linalg`, a compiled extension with
  a `_umath_linalg.pyi`), grimp falls back to the package (`numpy/linalg/__init__.py`):
  that edge of theirs is not compared unless ours has it too.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from parser_helpers import Files, edge_paths, write_tree

from neo_alexandria.v1 import graph_pb2
from services.parser.graph import RepoGraph, build_graph
from services.parser.walk import SKIP_DIRS

grimp = pytest.importorskip("grimp")

PACKAGES = ("sqlalchemy", "pydantic", "hypothesis", "torch_geometric", "numpy", "networkx")
"""Large and varied: ~2,400 files, ORM metaprogramming, lazy and conditional imports,
namespace test directories, `.pyi` stubs next to sources, compiled extensions."""
MIN_RATIO = 0.98
SHOWN = 20

Edge = tuple[str, str]


def _installed(name: str) -> Path | None:
    """The directory of installed top-level package `name` (not imported), if any."""
    spec = importlib.util.find_spec(name)
    locations = spec.submodule_search_locations if spec else None
    return Path(next(iter(locations))) if locations else None


def _python_only(directory: str, names: list[str]) -> list[str]:
    """`copytree` ignore: everything but directories and Python sources."""
    return [
        n
        for n in names
        if n == "__pycache__"
        or not (n.endswith((".py", ".pyi")) or os.path.isdir(os.path.join(directory, n)))
    ]


def _module_files(repo: Path, modules: Iterable[str]) -> dict[str, str]:
    """grimp module name → its file in `repo` (`a/b.py` or `a/b/__init__.py`)."""
    files: dict[str, str] = {}
    for module in modules:
        stem = module.replace(".", "/")
        for rel in (f"{stem}.py", f"{stem}/__init__.py"):
            if (repo / rel).is_file():
                files[module] = rel
                break
    return files


def _grimp_edges(graph: Any, files: dict[str, str]) -> set[Edge]:
    return {
        (files[source], files[target])
        for source in graph.modules
        for target in graph.find_modules_directly_imported_by(source)
        if files[source] != files[target]
    }


def _stub_fallback(stub: str) -> str:
    """The file grimp names for an import we resolve to stub `a/b/c.pyi` (or
    `a/b/c/__init__.pyi`): the parent package's, `a/b/__init__.py`."""
    module = stub.removesuffix(".pyi").removesuffix("/__init__")
    return module.rpartition("/")[0] + "/__init__.py"


@dataclass
class _Oracle:
    """Both graphs of one repository, and what each side can see."""

    files: set[str]
    graph: RepoGraph
    grimp_files: set[str]
    theirs: dict[bool, set[Edge]]
    """grimp's edges: all (False) and runtime only (True)."""

    @property
    def nodes(self) -> set[str]:
        return {node.path for node in self.graph.nodes}

    def outside_regular_packages(self, rel: str) -> bool:
        """Whether `rel` is a stub or lies under a directory without `__init__.py`."""
        parts = rel.split("/")[:-1]
        return rel.endswith(".pyi") or any(
            "/".join(parts[: depth + 1]) + "/__init__.py" not in self.files
            for depth in range(len(parts))
        )

    def ours(self, runtime: bool) -> set[Edge]:
        paths = [node.path for node in self.graph.nodes]
        return {
            (paths[s], paths[t])
            for s, t, kind in self.graph.edges
            if not runtime or kind == graph_pb2.EDGE_KIND_IMPORT
        }

    def compared(self, package: str, runtime: bool) -> tuple[set[Edge], set[Edge]]:
        """(ours, theirs): the edges leaving `package`, each side without what the
        other cannot see (see the module docstring)."""
        ours_all = self.ours(runtime)
        stub_fallbacks = {(s, _stub_fallback(t)) for s, t in ours_all if t.endswith(".pyi")}
        nodes, seen, prefix = self.nodes, self.grimp_files, package + "/"
        ours = {e for e in ours_all if e[0] in seen and e[1] in seen}
        theirs = {
            e
            for e in self.theirs[runtime]
            if e[0] in nodes and e[1] in nodes and (e in ours_all or e not in stub_fallbacks)
        }
        return (
            {e for e in ours if e[0].startswith(prefix)},
            {e for e in theirs if e[0].startswith(prefix)},
        )


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> _Oracle:
    repo = tmp_path_factory.mktemp("oracle")
    packages: list[str] = []
    for package in PACKAGES:
        location = _installed(package)
        if location is not None:
            shutil.copytree(location, repo / package, ignore=_python_only)
            packages.append(package)
    if not packages:
        pytest.skip("none of the oracle packages is installed")
    full = grimp.build_graph(*packages, cache_dir=None)
    runtime = grimp.build_graph(*packages, exclude_type_checking_imports=True, cache_dir=None)
    files = _module_files(repo, full.modules)
    return _Oracle(
        {p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file()},
        build_graph(repo),
        set(files.values()),
        {False: _grimp_edges(full, files), True: _grimp_edges(runtime, files)},
    )


def _report(label: str, ours: set[Edge], theirs: set[Edge]) -> tuple[float, float, str]:
    agreed = len(ours & theirs)
    precision = agreed / len(ours) if ours else 1.0
    recall = agreed / len(theirs) if theirs else 1.0
    lines = [
        f"{label}: ours {len(ours)}, grimp {len(theirs)}, agreed {agreed}, "
        f"precision {precision:.4f}, recall {recall:.4f}",
        f"only ours (first {SHOWN}):",
        *(f"  {s} -> {t}" for s, t in sorted(ours - theirs)[:SHOWN]),
        f"only grimp (first {SHOWN}):",
        *(f"  {s} -> {t}" for s, t in sorted(theirs - ours)[:SHOWN]),
    ]
    return precision, recall, "\n".join(lines)


def test_the_sides_miss_only_the_files_the_module_docstring_names(oracle: _Oracle) -> None:
    nodes = {n for n in oracle.nodes if n.endswith((".py", ".pyi"))}
    grimp_misses = sorted(
        p for p in nodes - oracle.grimp_files if not oracle.outside_regular_packages(p)
    )
    recorded = {path for path, _ in oracle.graph.errors}
    we_miss = sorted(
        p
        for p in {f for f in oracle.files if f.endswith((".py", ".pyi"))} - nodes
        if p not in recorded and not SKIP_DIRS.intersection(p.split("/")[:-1])
    )
    assert not grimp_misses, grimp_misses[:SHOWN]
    assert not we_miss, we_miss[:SHOWN]


@pytest.mark.parametrize("runtime", [False, True], ids=["all", "runtime"])
@pytest.mark.parametrize("package", PACKAGES)
def test_edges_agree_with_grimp(oracle: _Oracle, package: str, runtime: bool) -> None:
    if not any(f.startswith(package + "/") for f in oracle.files):
        pytest.skip(f"{package} is not installed")
    ours, theirs = oracle.compared(package, runtime)
    label = f"{package} ({'runtime' if runtime else 'all'} edges)"
    precision, recall, report = _report(label, ours, theirs)
    print(report, file=sys.stderr)
    assert len(theirs) >= 100, report  # a real comparison, not a vacuous one
    assert precision >= MIN_RATIO and recall >= MIN_RATIO, report


HAND_MADE: Files = {
    "na_fixture/__init__.py": "from . import a\nX = 1\n",
    "na_fixture/a.py": (
        "import na_fixture.sub.deep.leaf\n"  # the dotted module only
        "import na_fixture.sub.deep.ext\n"  # no file (an extension): its package
        "from na_fixture.sub import deep, attribute\n"  # a submodule, and sub's own file
    ),
    "na_fixture/b.py": "from .sub.deep import *\nfrom . import X\nimport na_fixture.c as alias\n",
    "na_fixture/c.py": (
        "try:\n    from .fast import f\nexcept ImportError:\n    from .slow import f\n"
        "def later():\n    from .sub import helper\n"
    ),
    "na_fixture/fast.py": "",
    "na_fixture/slow.py": "",
    "na_fixture/sub/__init__.py": "",
    "na_fixture/sub/helper.py": (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..c import later\n"
        "from .. import b\n"
    ),
    "na_fixture/sub/deep/__init__.py": "",
    "na_fixture/sub/deep/leaf.py": "from ...sub import helper\n",
}
HAND_MADE_EDGES = {
    ("na_fixture/__init__.py", "na_fixture/a.py", graph_pb2.EDGE_KIND_IMPORT),
    ("na_fixture/a.py", "na_fixture/sub/deep/leaf.py", graph_pb2.EDGE_KIND_IMPORT),
    ("na_fixture/a.py", "na_fixture/sub/deep/__init__.py", graph_pb2.EDGE_KIND_IMPORT),
    ("na_fixture/a.py", "na_fixture/sub/__init__.py", graph_pb2.EDGE_KIND_IMPORT),
    ("na_fixture/b.py", "na_fixture/sub/deep/__init__.py", graph_pb2.EDGE_KIND_IMPORT),
    ("na_fixture/b.py", "na_fixture/__init__.py", graph_pb2.EDGE_KIND_IMPORT),
    ("na_fixture/b.py", "na_fixture/c.py", graph_pb2.EDGE_KIND_IMPORT),
    ("na_fixture/c.py", "na_fixture/fast.py", graph_pb2.EDGE_KIND_IMPORT),
    ("na_fixture/c.py", "na_fixture/slow.py", graph_pb2.EDGE_KIND_IMPORT),
    ("na_fixture/c.py", "na_fixture/sub/helper.py", graph_pb2.EDGE_KIND_IMPORT),
    ("na_fixture/sub/helper.py", "na_fixture/c.py", graph_pb2.EDGE_KIND_TYPE_ONLY),
    ("na_fixture/sub/helper.py", "na_fixture/b.py", graph_pb2.EDGE_KIND_IMPORT),
    ("na_fixture/sub/deep/leaf.py", "na_fixture/sub/helper.py", graph_pb2.EDGE_KIND_IMPORT),
}


def test_each_rule_agrees_with_grimp_on_a_hand_made_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tree(tmp_path, HAND_MADE)
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = grimp.build_graph("na_fixture", cache_dir=None)
    files = _module_files(tmp_path, graph.modules)
    full = _grimp_edges(graph, files)
    runtime = _grimp_edges(
        grimp.build_graph("na_fixture", exclude_type_checking_imports=True, cache_dir=None), files
    )
    ours = edge_paths(build_graph(tmp_path))
    assert ours == HAND_MADE_EDGES
    assert {(s, t) for s, t, _ in ours} == full
    assert {(s, t) for s, t, kind in ours if kind == graph_pb2.EDGE_KIND_IMPORT} == runtime
