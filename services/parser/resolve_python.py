"""Resolve Python imports to files of the repository (docs/architecture.md,
"Import resolution").

Module `a.b` is the first of `a/b/__init__.py`, `a/b.py`, `a/b/__init__.pyi`,
`a/b.pyi`: a package beats a same-named module (as in CPython's path finder), and a
stub stands in only for a module with no source (a compiled extension, say).
Namespace packages (no `__init__.py`) have no file of their own, but their
modules resolve.

An absolute import is looked up under each source root in turn: the repository
root, `src/`, then every directory that is not itself a package and holds a module
or package whose top-level name the repository imports but neither of the first
two has (a script or test directory, a monorepo member), those enclosing the
importing file first, nearest first. A standard-library name skips the extra roots
that do not enclose the importing file: on `sys.path` they would come after the
standard library.

A relative import starts at the importing file's directory and drops one
component per leading dot after the first; above the repository root it names
nothing. `from X import y` → module `X.y` when it is a file, else X's own file (y
is an attribute). `import a.b.c` reads the same way: `a/b/c`, else a.b's own file,
since the statement runs a.b even when c is no file (a compiled extension, a
generated module). Imports that name no file are returned as written, so stdlib
and third-party dependencies are recorded rather than dropped.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence

from neo_alexandria.v1 import graph_pb2
from services.parser.python_imports import PythonImport
from services.parser.records import RepoIndex, Resolution

BASE_ROOTS = ("", "src")
_CANDIDATES = ("/__init__.py", ".py", "/__init__.pyi", ".pyi")
_INIT_FILES = ("__init__.py", "__init__.pyi")


class _ModuleIndex:
    """Python files by path, and the source roots their imports need."""

    def __init__(self, paths: Sequence[str]) -> None:
        self.by_path = {p: i for i, p in enumerate(paths) if p.endswith((".py", ".pyi"))}

    def find(self, base: str, parts: Sequence[str]) -> int | None:
        """The node index of module `parts` under directory `base`, if it is a file."""
        stem = "/".join([base, *parts] if base else parts)
        for suffix in _CANDIDATES:
            path = stem + suffix if stem else suffix.lstrip("/")
            index = self.by_path.get(path)
            if index is not None:
                return index
        return None

    def is_package(self, directory: str) -> bool:
        """Whether `directory` holds an `__init__.py` (or `__init__.pyi`)."""
        prefix = directory + "/" if directory else ""
        return any(prefix + name in self.by_path for name in _INIT_FILES)

    def extra_roots(self, top_names: Iterable[str]) -> dict[str, list[str]]:
        """For each top-level name imported but under no base root: the directories,
        other than base roots and packages, holding a module or (namespace) package of
        that name, shallowest first."""
        wanted = {n for n in top_names if all(self.find(r, (n,)) is None for r in BASE_ROOTS)}
        holders: dict[str, set[str]] = {}
        for path in self.by_path:
            parts = path.split("/")
            parts[-1] = parts[-1].rpartition(".")[0]
            for depth, name in enumerate(parts):
                if name in wanted:
                    holders.setdefault(name, set()).add("/".join(parts[:depth]))
        return {
            name: sorted(
                (r for r in dirs if r not in BASE_ROOTS and not self.is_package(r)),
                key=lambda r: (r.count("/"), r),
            )
            for name, dirs in holders.items()
        }


def _package_dir(path: str, level: int) -> str | None:
    """The directory a relative import with `level` dots starts from, or None above the root."""
    parts = path.split("/")[:-1]
    drop = level - 1
    if drop > len(parts):
        return None
    return "/".join(parts[: len(parts) - drop])


def _targets(
    index: _ModuleIndex, bases: Sequence[str], imp: PythonImport
) -> tuple[list[int], list[str]]:
    """Files the import names under the first base that has any, and specifiers left over.

    `import a.b.c` reads as `from a.b import c`: when `a.b.c` is no file (a compiled
    extension, a generated module) the statement still runs `a.b`, so it targets a.b.
    """
    parts = imp.module.split(".") if imp.module else []
    names = imp.names
    if not names and len(parts) > 1:
        parts, names = parts[:-1], (parts[-1],)
    prefix = "." * imp.level + ".".join(parts) + ("." if parts else "")
    for base in bases:
        own = index.find(base, parts)
        if not names:
            if own is not None:
                return [own], []
            continue
        found: list[int] = []
        missing: list[str] = []
        for name in names:
            sub = None if name == "*" else index.find(base, [*parts, *name.split(".")])
            if sub is not None:
                found.append(sub)
            elif own is not None:
                found.append(own)
            else:
                missing.append(prefix + name)
        if found:
            return found, missing
    if imp.module or not names:
        return [], [imp.specifier]
    return [], [prefix + ("" if name == "*" else name) for name in names]


def _bases(path: str, imp: PythonImport, extra: Mapping[str, list[str]]) -> list[str]:
    """Where `imp` of file `path` is looked up: its package for a relative import, else
    the base roots, then the extra roots holding its top-level name that enclose `path`
    (nearest first), then, unless the name is the standard library's, the others."""
    if imp.level:
        package = _package_dir(path, imp.level)
        return [] if package is None else [package]
    top = imp.module.partition(".")[0]
    holders = extra.get(top, [])
    enclosing = sorted((r for r in holders if path.startswith(r + "/")), key=len, reverse=True)
    if top in sys.stdlib_module_names:
        return [*BASE_ROOTS, *enclosing]
    return [*BASE_ROOTS, *enclosing, *(r for r in holders if r not in enclosing)]


def resolve(repo: RepoIndex, imports: Mapping[int, Sequence[PythonImport]]) -> Resolution:
    """Edges and unresolved imports for the Python files `imports` is keyed by (node indices).

    A type-only import (under `if TYPE_CHECKING:`, or in a `.pyi` stub) gives a
    TYPE_ONLY edge unless the same pair also has a runtime import.
    """
    paths = repo.paths
    index = _ModuleIndex(paths)
    tops = {i.module.partition(".")[0] for imps in imports.values() for i in imps if not i.level}
    extra = index.extra_roots(tops - {""})
    resolution = Resolution()
    for source in sorted(imports):
        path = paths[source]
        for imp in imports[source]:
            targets, missing = _targets(index, _bases(path, imp, extra), imp)
            kind = graph_pb2.EDGE_KIND_TYPE_ONLY if imp.type_only else graph_pb2.EDGE_KIND_IMPORT
            for target in targets:
                resolution.add_edge(source, target, kind)
            for specifier in missing:
                resolution.add_unresolved(source, specifier)
    return resolution
