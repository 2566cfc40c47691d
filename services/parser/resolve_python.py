"""Resolve Python imports to files of the repository (ARCHITECTURE.md, "Import resolution").

Absolute module `a.b` → `a/b/__init__.py` or `a/b.py` (then the `.pyi` stubs) under
each source root: the repository root, `src/`, then every directory holding a
package or module that the repository imports by a top-level name the first two
cannot resolve (nearest enclosing root of the importing file first). A relative
import drops one package component per leading dot after the first.
`from X import y` → the module `X.y` when it exists, else X's own file. Imports
that name no file are returned as written, so stdlib and third-party
dependencies are recorded rather than dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from neo_alexandria.v1 import graph_pb2
from services.parser.python_imports import PythonImport
from services.parser.records import RepoIndex, Resolution

BASE_ROOTS = ("", "src")
_CANDIDATES = ("/__init__.py", ".py", "/__init__.pyi", ".pyi")


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

    def extra_roots(self, top_names: Iterable[str]) -> list[str]:
        """Directories other than the base roots that hold a top-level name being imported."""
        wanted = {n for n in top_names if all(self.find(r, (n,)) is None for r in BASE_ROOTS)}
        roots: set[str] = set()
        for path in self.by_path:
            directory, _, filename = path.rpartition("/")
            stem = filename.rsplit(".", 1)[0]
            if stem == "__init__":
                directory, _, stem = directory.rpartition("/")
            if stem in wanted and directory not in BASE_ROOTS:
                roots.add(directory)
        return sorted(roots, key=lambda r: (r.count("/"), r))


def _roots_for(path: str, extra: list[str]) -> list[str]:
    """Base roots, then extra roots enclosing `path` (nearest first), then the others."""
    enclosing = [r for r in extra if path.startswith(r + "/")]
    enclosing.sort(key=lambda r: -len(r))
    return [*BASE_ROOTS, *enclosing, *(r for r in extra if r not in enclosing)]


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
    """Files the import names under the first base that has any, and specifiers left over."""
    parts = imp.module.split(".") if imp.module else []
    for base in bases:
        own = index.find(base, parts)
        if not imp.names:
            if own is not None:
                return [own], []
            continue
        found: list[int] = []
        missing: list[str] = []
        for name in imp.names:
            sub = None if name == "*" else index.find(base, [*parts, *name.split(".")])
            if sub is not None:
                found.append(sub)
            elif own is not None:
                found.append(own)
            else:
                missing.append(name)
        if found:
            joiner = "." if imp.module else ""
            return found, [f"{imp.specifier}{joiner}{name}" for name in missing]
    if imp.module or not imp.names:
        return [], [imp.specifier]
    return [], [imp.specifier + ("" if name == "*" else name) for name in imp.names]


def resolve(repo: RepoIndex, imports: Mapping[int, Sequence[PythonImport]]) -> Resolution:
    """Edges and unresolved imports for the Python files `imports` is keyed by (node indices).

    An import under `if TYPE_CHECKING:` gives a TYPE_ONLY edge unless the same pair
    also has a runtime import.
    """
    paths = repo.paths
    index = _ModuleIndex(paths)
    tops = {i.module.split(".")[0] for imps in imports.values() for i in imps if not i.level}
    extra = index.extra_roots(tops - {""})
    resolution = Resolution()
    for source in sorted(imports):
        path = paths[source]
        roots = _roots_for(path, extra) if extra else list(BASE_ROOTS)
        for imp in imports[source]:
            if imp.level:
                package = _package_dir(path, imp.level)
                bases = [] if package is None else [package]
            else:
                bases = roots
            targets, missing = _targets(index, bases, imp)
            kind = graph_pb2.EDGE_KIND_TYPE_ONLY if imp.type_only else graph_pb2.EDGE_KIND_IMPORT
            for target in targets:
                resolution.add_edge(source, target, kind)
            for specifier in missing:
                resolution.add_unresolved(source, specifier)
    return resolution
