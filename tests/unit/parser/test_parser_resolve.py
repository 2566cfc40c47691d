"""Python import resolution, checked through build_graph on small trees."""

from __future__ import annotations

from pathlib import Path

from parser_helpers import edge_paths, unresolved_paths, write_tree

from neo_alexandria.v1 import graph_pb2
from services.parser.graph import build_graph

IMPORT = graph_pb2.EDGE_KIND_IMPORT
TYPE_ONLY = graph_pb2.EDGE_KIND_TYPE_ONLY


def test_absolute_imports_resolve_to_modules_and_packages(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "main.py": "import pkg\nimport pkg.mod\nimport os.path\n",
            "pkg/__init__.py": "",
            "pkg/mod.py": "",
        },
    )
    graph = build_graph(tmp_path)
    assert edge_paths(graph) == {
        ("main.py", "pkg/__init__.py", IMPORT),
        ("main.py", "pkg/mod.py", IMPORT),
    }
    assert unresolved_paths(graph) == {("main.py", "os.path")}


def test_src_layout(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "src/app/__init__.py": "",
            "src/app/core.py": "from app.util import helper\n",
            "src/app/util.py": "def helper(): ...\n",
            "tests/test_core.py": "import app.core\n",
        },
    )
    assert edge_paths(build_graph(tmp_path)) == {
        ("src/app/core.py", "src/app/util.py", IMPORT),
        ("tests/test_core.py", "src/app/core.py", IMPORT),
    }


def test_directory_whose_packages_are_imported_becomes_a_root(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "backend/service/__init__.py": "",
            "backend/service/api.py": "from service import models\n",
            "backend/service/models.py": "",
            "backend/run.py": "import service.api\n",
        },
    )
    assert edge_paths(build_graph(tmp_path)) == {
        ("backend/service/api.py", "backend/service/models.py", IMPORT),
        ("backend/run.py", "backend/service/api.py", IMPORT),
    }


def test_relative_imports_drop_one_component_per_extra_dot(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "deep.py": "from .. import above_the_root\n",
            "pkg/__init__.py": "from . import a\n",
            "pkg/a.py": "from .b import thing\nfrom .. import top\nfrom ..missing import x\n",
            "pkg/b.py": "from .sub.c import y\nfrom . import nothing_here\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/c.py": "from ...pkg import a\nfrom ... import toplevel\n",
            "top.py": "",
        },
    )
    graph = build_graph(tmp_path)
    assert edge_paths(graph) == {
        ("pkg/__init__.py", "pkg/a.py", IMPORT),
        ("pkg/a.py", "pkg/b.py", IMPORT),
        ("pkg/a.py", "top.py", IMPORT),
        ("pkg/b.py", "pkg/sub/c.py", IMPORT),
        ("pkg/b.py", "pkg/__init__.py", IMPORT),
        ("pkg/sub/c.py", "pkg/a.py", IMPORT),
    }
    # `from ... import toplevel` from pkg/sub/c.py names no file at the root.
    assert unresolved_paths(graph) == {
        ("pkg/a.py", "..missing"),
        ("pkg/sub/c.py", "...toplevel"),
        ("deep.py", "..above_the_root"),
    }


def test_from_package_import_module_versus_name(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "main.py": "from pkg import mod, CONSTANT\nfrom pkg.mod import function\n",
            "pkg/__init__.py": "CONSTANT = 1\n",
            "pkg/mod.py": "def function(): ...\n",
        },
    )
    assert edge_paths(build_graph(tmp_path)) == {
        ("main.py", "pkg/mod.py", IMPORT),
        ("main.py", "pkg/__init__.py", IMPORT),
    }


def test_wildcard_import_targets_the_module(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a.py": "from b import *\n", "b.py": ""})
    assert edge_paths(build_graph(tmp_path)) == {("a.py", "b.py", IMPORT)}


def test_type_only_edges_and_dedup(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "a.py": (
                "from typing import TYPE_CHECKING\nimport b\nimport b\n"
                "if TYPE_CHECKING:\n    import b\n    import c\n"
            ),
            "b.py": "import b\n",
            "c.py": "",
        },
    )
    graph = build_graph(tmp_path)
    assert sorted(edge_paths(graph)) == [("a.py", "b.py", IMPORT), ("a.py", "c.py", TYPE_ONLY)]
    assert len(graph.edges) == 2  # no duplicates, no self-edge for b.py
    assert unresolved_paths(graph) == {("a.py", "typing")}


def test_stub_files_resolve_when_no_source_exists(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a.py": "import stubbed\n", "stubbed.pyi": ""})
    assert edge_paths(build_graph(tmp_path)) == {("a.py", "stubbed.pyi", IMPORT)}


def test_other_languages_are_nodes_without_edges(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "web/app.ts": "import x from './y'\n",
            "web/y.js": "",
            "Main.java": "class Main {}\n",
            "main.go": "package main\n",
            "README.md": "# not source\n",
        },
    )
    graph = build_graph(tmp_path)
    assert {(n.path, n.language) for n in graph.nodes} == {
        ("web/app.ts", graph_pb2.LANGUAGE_TYPESCRIPT),
        ("web/y.js", graph_pb2.LANGUAGE_JAVASCRIPT),
        ("Main.java", graph_pb2.LANGUAGE_JAVA),
        ("main.go", graph_pb2.LANGUAGE_GO),
    }
    assert graph.edges == []
    assert (graph.stats.files_seen, graph.stats.files_parsed) == (5, 4)
