"""Resolve Java imports and type references to files the way javac does
(docs/architecture.md, "Import resolution").

Every file's package and top-level types give an index: fully qualified name →
file(s). A dotted name resolves javac's way, left to right: the first prefix of at
least two segments that is a known type names that type's file (so nested types,
static members and `a.b.C.Inner.CONST` resolve to C's file); the unnamed package
cannot be imported or named, so its types are only seen from their own directory.
Per file, in javac's order of precedence (own and nested types, which the extractor
already left out of the references > single-type imports > same package > on demand):

- `import a.b.C[.Inner]` and `import static a.b.C.member` → C's file, used or not
  (javac resolves every import);
- `import a.b.C.*` / `import static a.b.C.*` → C's file; `import a.b.*` (and the
  implicit `java.lang.*`) → the files of package a.b declaring a simple name the
  file references, unless that name is single-type-imported (static or not) or
  declared in the file's own package;
- a referenced simple name declared by another file of the same package (for the
  unnamed package, of the same directory) → that file, unless a single-type import
  (static or not) of that simple name shadows it;
- a qualified name written in code (`com.acme.Strings.join(…)`) → its type's file.

When several files declare one fully qualified name (modules of a Maven or Gradle
build, test fixtures), the one sharing the deepest directory with the referring
file wins, then the first by path. Imports that name no repository type are
recorded as written (`java.util.List`, `org.junit.*`, `org.junit.Assert.assertEquals`);
references and qualified names that match nothing are just identifiers and are
not. A package with no type (only `package-info.java`) is not a repository package.
Work is linear in the facts: lookups are dictionary probes, and packages or names
longer than `MAX_NAME` characters are never resolved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from neo_alexandria.v1 import graph_pb2
from services.parser.java_imports import JavaFile, JavaImport
from services.parser.records import RepoIndex, Resolution

IMPORT = graph_pb2.EDGE_KIND_IMPORT
JAVA_LANG = "java.lang"
"""Imported on demand by every compilation unit (it matters when the repository is a JDK)."""
MAX_NAME = 1024
"""Longer packages and dotted names are never resolved: that keeps hostile names cheap."""

_Key = tuple[str, str]  # (package, or directory for the unnamed package; simple name)


def _directory(path: str) -> str:
    return path.rpartition("/")[0]


def _ancestors(directory: str) -> Iterable[str]:
    """`a/b`, `a`, then "" (the repository root)."""
    while directory:
        yield directory
        directory = directory.rpartition("/")[0]
    yield ""


class _TypeIndex:
    """Files by the types they declare, and the simple names of each package."""

    def __init__(self, paths: Sequence[str], facts: Mapping[int, JavaFile]) -> None:
        self.paths = paths
        self.named: dict[_Key, list[int]] = {}
        self.unnamed: dict[_Key, list[int]] = {}
        self.packages: dict[str, set[str]] = {}
        self.depth = 0  # most segments in a package name
        self._by_directory: dict[_Key, dict[str, int]] = {}  # see _nearest
        for index in sorted(facts, key=lambda i: paths[i]):
            file = facts[index]
            if not file.types or len(file.package) > MAX_NAME:
                continue
            if file.package:
                self.packages.setdefault(file.package, set()).update(file.types)
                self.depth = max(self.depth, file.package.count(".") + 1)
                table, scope = self.named, file.package
            else:
                table, scope = self.unnamed, _directory(paths[index])
            for simple in file.types:
                table.setdefault((scope, simple), []).append(index)

    def in_package(self, package: str, simple: str, source: int) -> int | None:
        """The file declaring `simple` in `package` ("": the unnamed package of the source's
        directory); of several, the nearest to the source."""
        if not package:
            found = self.unnamed.get((_directory(self.paths[source]), simple))
            return found[0] if found else None
        candidates = self.named.get((package, simple))
        if not candidates:
            return None
        return candidates[0] if len(candidates) == 1 else self._nearest(package, simple, source)

    def _nearest(self, package: str, simple: str, source: int) -> int:
        """Of the files declaring `package.simple`, the one sharing the deepest directory
        with the source, the first by path among equals."""
        key = (package, simple)
        by_directory = self._by_directory.get(key)
        if by_directory is None:
            by_directory = self._by_directory[key] = {}
            for candidate in self.named[key]:  # in path order
                for directory in _ancestors(_directory(self.paths[candidate])):
                    by_directory.setdefault(directory, candidate)
        here = _directory(self.paths[source])
        return next(by_directory[d] for d in _ancestors(here) if d in by_directory)

    def type_file(self, dotted: str, source: int) -> int | None:
        """The file of the first prefix (two segments or more) of `dotted` that is a type."""
        if len(dotted) > MAX_NAME:
            return None
        parts = dotted.split(".")
        for count in range(1, min(len(parts), self.depth + 1)):
            package = ".".join(parts[:count])
            if package in self.packages:
                target = self.in_package(package, parts[count], source)
                if target is not None:
                    return target
        return None


def _single_names(imports: Iterable[JavaImport]) -> set[str]:
    """Simple names that single-type and single-static imports bring into scope."""
    return {imp.name.rpartition(".")[2] for imp in imports if not imp.wildcard}


def _resolve_file(index: _TypeIndex, source: int, file: JavaFile, resolution: Resolution) -> None:
    imported = _single_names(file.imports)
    same_package = {
        simple: target
        for simple in file.references
        if simple not in imported
        and (target := index.in_package(file.package, simple, source)) is not None
    }
    targets: list[int | None] = []
    on_demand: dict[str, None] = {}
    for imp in file.imports:
        target = index.type_file(imp.name, source)
        if imp.wildcard and target is None and imp.name in index.packages:
            on_demand[imp.name] = None
        elif target is None:
            resolution.add_unresolved(source, imp.specifier)
        targets.append(target)
    on_demand[JAVA_LANG] = None
    unclaimed = set(file.references) - imported - same_package.keys()
    for package in on_demand:
        names = unclaimed & index.packages.get(package, set())
        targets.extend(index.in_package(package, simple, source) for simple in sorted(names))
    targets.extend(same_package.values())
    targets.extend(index.type_file(dotted, source) for dotted in file.qualified)
    for target in targets:
        if target is not None:
            resolution.add_edge(source, target, IMPORT)


def resolve(repo: RepoIndex, facts: Mapping[int, JavaFile]) -> Resolution:
    """Edges and unresolved imports for the Java files `facts` is keyed by (node indices)."""
    index = _TypeIndex(repo.paths, facts)
    resolution = Resolution()
    for source in sorted(facts):
        _resolve_file(index, source, facts[source], resolution)
    return resolution
