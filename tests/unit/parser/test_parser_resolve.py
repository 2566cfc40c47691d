"""Python import resolution, checked through build_graph on small hand-made trees.

One test per rule of resolve_python.py's docstring, each with the exact edges and
unresolved specifiers expected.
"""

from __future__ import annotations

import time
from pathlib import Path

from parser_helpers import Files, edge_paths, unresolved_paths, write_tree

from neo_alexandria.v1 import graph_pb2
from services.parser.graph import RepoGraph, build_graph
from services.parser.python_imports import PythonImport
from services.parser.records import RepoIndex
from services.parser.resolve_python import resolve

IMPORT = graph_pb2.EDGE_KIND_IMPORT
TYPE_ONLY = graph_pb2.EDGE_KIND_TYPE_ONLY


def graph_of(root: Path, files: Files) -> RepoGraph:
    return build_graph(write_tree(root, files))


def test_absolute_imports_resolve_to_modules_and_packages(tmp_path: Path) -> None:
    graph = graph_of(
        tmp_path,
        {
            "main.py": "import pkg\nimport pkg.mod\nimport pkg.mod as alias\nimport os.path\n",
            "pkg/__init__.py": "",
            "pkg/mod.py": "",
        },
    )
    assert edge_paths(graph) == {
        ("main.py", "pkg/__init__.py", IMPORT),
        ("main.py", "pkg/mod.py", IMPORT),
    }
    assert unresolved_paths(graph) == {("main.py", "os.path")}


def test_import_of_a_dotted_module_targets_only_that_module(tmp_path: Path) -> None:
    # `import a.b.c` runs a/__init__ and a/b/__init__ too, but names (and binds) a.b.c:
    # the edge goes to a/b/c.py alone, as in grimp.
    graph = graph_of(
        tmp_path,
        {
            "main.py": "import a.b.c\n",
            "a/__init__.py": "",
            "a/b/__init__.py": "",
            "a/b/c.py": "",
        },
    )
    assert edge_paths(graph) == {("main.py", "a/b/c.py", IMPORT)}


def test_import_of_a_module_that_is_no_file_targets_its_package(tmp_path: Path) -> None:
    # `import a.b.ext` where ext is a compiled extension (or generated) still runs a.b;
    # like `from a.b import ext`, it targets a.b. A missing package stays unresolved.
    graph = graph_of(
        tmp_path,
        {
            "main.py": "import a.b.ext\nimport a.nothing.deeper\nimport missing\n",
            "a/__init__.py": "",
            "a/b/__init__.py": "",
        },
    )
    assert edge_paths(graph) == {("main.py", "a/b/__init__.py", IMPORT)}
    assert unresolved_paths(graph) == {("main.py", "a.nothing.deeper"), ("main.py", "missing")}


def test_from_package_import_submodule_versus_attribute(tmp_path: Path) -> None:
    graph = graph_of(
        tmp_path,
        {
            "sub.py": "from pkg import mod\n",
            "attr.py": "from pkg import CONSTANT\n",
            "mixed.py": "from pkg import mod, CONSTANT, other\n",
            "deep.py": "from pkg.mod import function\n",
            "pkg/__init__.py": "CONSTANT = 1\n",
            "pkg/mod.py": "def function(): ...\n",
            "pkg/other/__init__.py": "",
        },
    )
    assert edge_paths(graph) == {
        ("sub.py", "pkg/mod.py", IMPORT),
        ("attr.py", "pkg/__init__.py", IMPORT),
        ("mixed.py", "pkg/mod.py", IMPORT),
        ("mixed.py", "pkg/__init__.py", IMPORT),
        ("mixed.py", "pkg/other/__init__.py", IMPORT),
        ("deep.py", "pkg/mod.py", IMPORT),
    }
    assert unresolved_paths(graph) == set()


def test_package_beats_same_named_module(tmp_path: Path) -> None:
    # CPython's path finder tries the directory before `name.py`.
    graph = graph_of(
        tmp_path,
        {"main.py": "import thing\n", "thing.py": "", "thing/__init__.py": ""},
    )
    assert edge_paths(graph) == {("main.py", "thing/__init__.py", IMPORT)}


def test_wildcard_imports_target_the_module(tmp_path: Path) -> None:
    graph = graph_of(
        tmp_path,
        {
            "a.py": "from b import *\n",
            "b.py": "",
            "pkg/__init__.py": "from .x import *\nfrom . import *\n",
            "pkg/x.py": "",
        },
    )
    assert edge_paths(graph) == {
        ("a.py", "b.py", IMPORT),
        ("pkg/__init__.py", "pkg/x.py", IMPORT),
    }


def test_relative_imports_drop_one_component_per_extra_dot(tmp_path: Path) -> None:
    graph = graph_of(
        tmp_path,
        {
            "deep.py": "from .. import above_the_root\n",
            "pkg/__init__.py": "from . import a\nfrom .a import name\n",
            "pkg/a.py": "from .b import thing\nfrom .. import top\nfrom ..missing import x\n",
            "pkg/b.py": "from .sub.c import y\nfrom . import nothing_here\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/c.py": (
                "from ...pkg import a\nfrom ... import toplevel\nfrom .... import beyond\n"
            ),
            "top.py": "",
        },
    )
    assert edge_paths(graph) == {
        ("pkg/__init__.py", "pkg/a.py", IMPORT),
        ("pkg/a.py", "pkg/b.py", IMPORT),
        ("pkg/a.py", "top.py", IMPORT),
        ("pkg/b.py", "pkg/sub/c.py", IMPORT),
        ("pkg/b.py", "pkg/__init__.py", IMPORT),  # nothing_here: an attribute of pkg
        ("pkg/sub/c.py", "pkg/a.py", IMPORT),
    }
    # `from ... import toplevel` from pkg/sub/c.py names no file at the root; one dot
    # more (or two in deep.py) climbs above the repository root.
    assert unresolved_paths(graph) == {
        ("pkg/a.py", "..missing"),
        ("pkg/sub/c.py", "...toplevel"),
        ("pkg/sub/c.py", "....beyond"),
        ("deep.py", "..above_the_root"),
    }


def test_src_layout_and_a_tests_directory_importing_the_package(tmp_path: Path) -> None:
    graph = graph_of(
        tmp_path,
        {
            "src/app/__init__.py": "",
            "src/app/core.py": "from app.util import helper\n",
            "src/app/util.py": "def helper(): ...\n",
            "tests/test_core.py": "import app.core\nfrom app import util\n",
        },
    )
    assert edge_paths(graph) == {
        ("src/app/core.py", "src/app/util.py", IMPORT),
        ("tests/test_core.py", "src/app/core.py", IMPORT),
        ("tests/test_core.py", "src/app/util.py", IMPORT),
    }


def test_flat_layout_tests_import_the_package_and_their_own_helpers(tmp_path: Path) -> None:
    # pytest puts a test directory without __init__.py on sys.path, so `helpers` is
    # tests/helpers.py; a test package (with __init__.py) is imported by its full name.
    graph = graph_of(
        tmp_path,
        {
            "mypkg/__init__.py": "",
            "mypkg/core.py": "",
            "tests/conftest.py": "import helpers\n",
            "tests/helpers.py": "from mypkg import core\n",
            "tests/test_core.py": "from mypkg.core import f\nfrom helpers import make\n",
            "itests/__init__.py": "",
            "itests/util.py": "",
            "itests/test_it.py": "from itests.util import x\nimport mypkg\n",
        },
    )
    assert edge_paths(graph) == {
        ("tests/conftest.py", "tests/helpers.py", IMPORT),
        ("tests/helpers.py", "mypkg/core.py", IMPORT),
        ("tests/test_core.py", "mypkg/core.py", IMPORT),
        ("tests/test_core.py", "tests/helpers.py", IMPORT),
        ("itests/test_it.py", "itests/util.py", IMPORT),
        ("itests/test_it.py", "mypkg/__init__.py", IMPORT),
    }


def test_directory_whose_packages_are_imported_becomes_a_root(tmp_path: Path) -> None:
    graph = graph_of(
        tmp_path,
        {
            "backend/service/__init__.py": "",
            "backend/service/api.py": "from service import models\n",
            "backend/service/models.py": "",
            "backend/run.py": "import service.api\n",
            "tools/check.py": "from service.models import Model\n",
        },
    )
    assert edge_paths(graph) == {
        ("backend/service/api.py", "backend/service/models.py", IMPORT),
        ("backend/run.py", "backend/service/api.py", IMPORT),
        ("tools/check.py", "backend/service/models.py", IMPORT),
    }


def test_namespace_package_under_an_extra_root(tmp_path: Path) -> None:
    graph = graph_of(
        tmp_path,
        {"libs/ns/mod.py": "", "app.py": "import ns.mod\nfrom ns import mod\n"},
    )
    assert edge_paths(graph) == {("app.py", "libs/ns/mod.py", IMPORT)}


def test_a_package_directory_is_never_a_root(tmp_path: Path) -> None:
    # pkg/typing.py is pkg.typing: `import typing` anywhere is the standard library's,
    # and `import django` is not pkg/extra/django (a package's own subpackage).
    graph = graph_of(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/typing.py": "",
            "pkg/core.py": "import typing\nfrom typing import Any\nimport django\n",
            "pkg/extra/__init__.py": "",
            "pkg/extra/django/__init__.py": "",
        },
    )
    assert edge_paths(graph) == set()
    assert unresolved_paths(graph) == {
        ("pkg/core.py", "typing"),
        ("pkg/core.py", "django"),
    }


def test_standard_library_names_resolve_only_under_enclosing_roots(tmp_path: Path) -> None:
    # Running scripts/run.py puts scripts/ first on sys.path, so its `import json` is
    # scripts/json.py; elsewhere scripts/ would come after the standard library.
    graph = graph_of(
        tmp_path,
        {
            "scripts/json.py": "",
            "scripts/run.py": "import json\n",
            "app.py": "import json\n",
        },
    )
    assert edge_paths(graph) == {("scripts/run.py", "scripts/json.py", IMPORT)}
    assert unresolved_paths(graph) == {("app.py", "json")}


def test_namespace_packages_resolve_their_modules(tmp_path: Path) -> None:
    graph = graph_of(
        tmp_path,
        {
            "main.py": (
                "import ns.mod\nfrom ns import mod, attribute\nimport ns\nfrom ns.sub import leaf\n"
            ),
            "ns/mod.py": "from . import sibling\nfrom .sub import leaf\n",
            "ns/sibling.py": "",
            "ns/sub/leaf.py": "",
        },
    )
    assert edge_paths(graph) == {
        ("main.py", "ns/mod.py", IMPORT),
        ("main.py", "ns/sub/leaf.py", IMPORT),
        ("ns/mod.py", "ns/sibling.py", IMPORT),
        ("ns/mod.py", "ns/sub/leaf.py", IMPORT),
    }
    # A namespace package has no file: neither it nor an attribute of it resolves.
    assert unresolved_paths(graph) == {("main.py", "ns"), ("main.py", "ns.attribute")}


def test_source_beats_stub_and_a_stub_stands_in_for_a_module_without_source(
    tmp_path: Path,
) -> None:
    graph = graph_of(
        tmp_path,
        {
            "main.py": "import both\nimport stubbed\nfrom pkg import ext\nimport pkg\n",
            "both.py": "",
            "both.pyi": "import stubbed\n",  # a stub's imports are type-only edges
            "stubbed.pyi": "",
            "pkg/__init__.py": "",
            "pkg/__init__.pyi": "",
            "pkg/ext.pyi": "",
        },
    )
    assert edge_paths(graph) == {
        ("main.py", "both.py", IMPORT),
        ("main.py", "stubbed.pyi", IMPORT),
        ("main.py", "pkg/ext.pyi", IMPORT),
        ("main.py", "pkg/__init__.py", IMPORT),
        ("both.pyi", "stubbed.pyi", TYPE_ONLY),
    }


def test_imports_in_functions_and_under_type_checking(tmp_path: Path) -> None:
    graph = graph_of(
        tmp_path,
        {
            "a.py": (
                "import typing\nfrom typing import TYPE_CHECKING\nimport b\n"
                "if TYPE_CHECKING:\n    import b\n    import c\n    from d import D\n"
                "if typing.TYPE_CHECKING:\n    import e\n"
                "def later():\n    import d\n    from f import g\n"
            ),
            "b.py": "import b\n",
            "c.py": "",
            "d.py": "",
            "e.py": "",
            "f.py": "",
        },
    )
    assert edge_paths(graph) == {
        ("a.py", "b.py", IMPORT),  # imported at runtime too
        ("a.py", "c.py", TYPE_ONLY),
        ("a.py", "d.py", IMPORT),  # also imported inside a function
        ("a.py", "e.py", TYPE_ONLY),
        ("a.py", "f.py", IMPORT),
    }
    assert len(graph.edges) == 5  # one edge per pair, no self-edge for b.py
    assert unresolved_paths(graph) == {("a.py", "typing")}


def test_try_except_import_error_fallbacks_both_count(tmp_path: Path) -> None:
    graph = graph_of(
        tmp_path,
        {
            "pkg/__init__.py": (
                "try:\n    from ._speedups import run\nexcept ImportError:\n"
                "    from ._pure import run\n"
                "try:\n    import ujson as json\nexcept ImportError:\n    import json\n"
            ),
            "pkg/_speedups.py": "",
            "pkg/_pure.py": "",
        },
    )
    assert edge_paths(graph) == {
        ("pkg/__init__.py", "pkg/_speedups.py", IMPORT),
        ("pkg/__init__.py", "pkg/_pure.py", IMPORT),
    }
    assert unresolved_paths(graph) == {("pkg/__init__.py", "ujson"), ("pkg/__init__.py", "json")}


def test_future_imports_are_no_dependency(tmp_path: Path) -> None:
    graph = graph_of(
        tmp_path, {"a.py": "from __future__ import annotations\nimport b\n", "b.py": ""}
    )
    assert edge_paths(graph) == {("a.py", "b.py", IMPORT)}
    assert unresolved_paths(graph) == set()


def test_standard_library_and_third_party_imports_are_recorded_as_written(
    tmp_path: Path,
) -> None:
    graph = graph_of(
        tmp_path,
        {
            "a.py": (
                "import numpy as np\nimport xml.etree.ElementTree as ET\n"
                "from requests import get, post\nfrom collections.abc import Mapping\n"
                "from . import local_name\n"
            )
        },
    )
    assert edge_paths(graph) == set()
    assert unresolved_paths(graph) == {
        ("a.py", "numpy"),
        ("a.py", "xml.etree.ElementTree"),
        ("a.py", "requests"),
        ("a.py", "collections.abc"),
        ("a.py", ".local_name"),
    }


def test_python_imports_never_resolve_to_other_languages(tmp_path: Path) -> None:
    graph = graph_of(
        tmp_path,
        {
            "app.py": "import web.y\nfrom web import app\n",
            "web/app.ts": "import x from './y'\n",
            "web/y.js": "",
            "README.md": "# not source\n",
        },
    )
    assert {(n.path, n.language) for n in graph.nodes} == {
        ("app.py", graph_pb2.LANGUAGE_PYTHON),
        ("web/app.ts", graph_pb2.LANGUAGE_TYPESCRIPT),
        ("web/y.js", graph_pb2.LANGUAGE_JAVASCRIPT),
    }
    assert not {e for e in edge_paths(graph) if e[0] == "app.py"}
    assert unresolved_paths(graph) >= {("app.py", "web.y"), ("app.py", "web")}
    assert (graph.stats.files_seen, graph.stats.files_parsed) == (4, 3)


def test_resolution_stays_linear_with_thousands_of_extra_roots() -> None:
    # Each svc<i>/ is a root (its main.py imports its helpers by bare name); every
    # import is looked up only under the roots holding its top-level name, so 3,000
    # roots cost no more per import than one (it once took ~20 s, all roots per import).
    count = 3000
    paths: list[str] = []
    imports: dict[int, tuple[PythonImport, ...]] = {}
    for i in range(count):
        paths += [f"svc{i}/helpers_{i}.py", f"svc{i}/main.py"]
        imports[len(paths) - 1] = (
            PythonImport(f"helpers_{i}"),
            PythonImport("numpy"),
            PythonImport("json"),
        )
    started = time.perf_counter()
    resolution = resolve(RepoIndex(paths), imports)
    assert time.perf_counter() - started < 2.0
    assert sorted(resolution.edges) == [(2 * i + 1, 2 * i, IMPORT) for i in range(count)]
    assert len(resolution.unresolved) == 2 * count
