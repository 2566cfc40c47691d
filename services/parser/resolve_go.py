"""Resolve Go imports to files, as `go list` maps import paths to packages
(docs/architecture.md, "Import resolution").

- Modules: every `go.mod` of the repository roots a module at its directory, as if
  one go.work used them all (a go.work's `use` lines name such directories, so they
  add nothing). The `module` path may be quoted; comments are ignored. A `replace`
  directive of a go.mod or go.work whose target is a local path (`./x`, `../x`, block
  form too) inside the repository also maps the replaced module path to that
  directory, for every importer (Go applies only the main module's).
- A directory belongs to the innermost module root containing it. An import path
  resolves through each module path equal to it or a `/`-prefix of it, longest first:
  module directory + the rest of the path is the package directory, provided that it
  belongs to that module (is not inside a nested module) and holds package files.
  When several directories carry one module path, the importer's own module comes
  first, then the shallowest.
- A package is the `.go` files of exactly that directory that are not tests
  (`_test.go`), not ignored by go/build (`_x.go`, `.x.go`), not excluded from every
  build (`//go:build ignore`), and declare the directory's package: the most common
  package clause among those files (a missing clause or `package documentation`
  never counts; a tie goes to the alphabetically first name). Each gets an edge.
- Test files are nodes whose imports resolve the same way (an external test package
  `foo_test` importing its own package gets edges to it).
- A repository without any go.mod (GOPATH era) is one module rooted at its top
  directory when canonical import comments (`package x // import "…"`, which the go
  tool enforced there) say which import path that directory has: the path most of
  them imply (`a/b/c.go` saying `example.com/r/a/b` implies `example.com/r`).
  Without such a comment nothing in the repository says where GOPATH placed it.
- Everything else is recorded unresolved as written: the standard library,
  third-party and vendored paths (`vendor/` is never walked), relative paths (`./x`,
  which modules reject) and other malformed paths, directories without package files,
  and the imports of a GOPATH repository without import comments.
"""

from __future__ import annotations

import posixpath
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence

from neo_alexandria.v1 import graph_pb2
from services.parser.go_imports import GoFile
from services.parser.records import RepoIndex, Resolution

_TOKEN = re.compile(r'//.*|"(?:[^"\\]|\\.)*"?|`[^`]*`?|=>|[()]|[^\s"`()=]+|\S')
"""go.mod tokens; an unclosed string runs to the end of the line (so lexing stays linear)."""
_IGNORED_PACKAGES = frozenset({"", "documentation"})


def _directory(path: str) -> str:
    return path.rpartition("/")[0]


def _join(directory: str, rest: str) -> str:
    return f"{directory}/{rest}" if directory and rest else directory or rest


def _directives(text: str) -> Iterator[tuple[str, list[str]]]:
    """(verb, arguments) of each go.mod/go.work line, `verb ( … )` blocks included;
    quotes are removed from the arguments."""
    block: str | None = None
    for line in text.splitlines():
        tokens = [t for t in _TOKEN.findall(line) if not t.startswith("//")]
        if not tokens:
            continue
        if block is not None:
            if tokens == [")"]:
                block = None
            else:
                yield block, [_unquote(t) for t in tokens]
        elif tokens[1:] == ["("]:
            block = tokens[0]
        else:
            yield tokens[0], [_unquote(t) for t in tokens[1:]]


def _unquote(token: str) -> str:
    quoted = len(token) >= 2 and token[0] == token[-1] and token[0] in '"`'
    return token[1:-1] if quoted else token


def _replacement(directory: str, arguments: list[str]) -> tuple[str, str] | None:
    """(module path, repository directory) of a `replace old [v] => ./new` directive
    written in `directory`; None unless the target is a local path inside the repository."""
    if "=>" not in arguments[1:]:
        return None
    new = arguments[arguments.index("=>", 1) + 1 :]
    if len(new) != 1 or not (new[0] in (".", "..") or new[0].startswith(("./", "../"))):
        return None
    target = posixpath.normpath(posixpath.join(directory, new[0]))
    if target == ".." or target.startswith("../"):
        return None
    return arguments[0], "" if target == "." else target


class _Modules:
    """Module roots (directories with a go.mod) and the directories of each module path."""

    def __init__(self, repo: RepoIndex) -> None:
        self.roots: set[str] = set()
        self.dirs: dict[str, list[str]] = {}
        for manifest in repo.manifests:
            name = manifest.rpartition("/")[2]
            if name in ("go.mod", "go.work"):
                self._read(repo, manifest, is_module=name == "go.mod")

    def _read(self, repo: RepoIndex, manifest: str, *, is_module: bool) -> None:
        text = repo.read_text(manifest)
        directory = _directory(manifest)
        if is_module:
            self.roots.add(directory)
        declared = False
        for verb, arguments in _directives(text or ""):
            if verb == "module" and is_module and arguments and not declared:
                self.add(arguments[0], directory)
                declared = True
            elif verb == "replace":
                replacement = _replacement(directory, arguments)
                if replacement is not None:
                    self.add(*replacement)

    def add(self, module: str, directory: str, *, module_root: bool = False) -> None:
        """Map module path `module` to `directory` (and make that a module root)."""
        if module_root:
            self.roots.add(directory)
        dirs = self.dirs.setdefault(module, [])
        if directory not in dirs:
            dirs.append(directory)

    def owner(self, directory: str) -> str | None:
        """The innermost module root containing `directory`."""
        while directory not in self.roots:
            if not directory:
                return None
            directory = _directory(directory)
        return directory

    def candidates(self, import_path: str, own: str | None) -> Iterator[tuple[str, str]]:
        """(module directory, package directory) for each module path that prefixes
        `import_path`, longest first; the importer's own module first among equals."""
        end = len(import_path)
        while end > 0:
            module = import_path[:end]
            rest = import_path[end + 1 :]
            dirs = self.dirs.get(module, ())
            for directory in sorted(dirs, key=lambda d: (d != own, d.count("/"), d)):
                yield directory, _join(directory, rest)
            end = import_path.rfind("/", 0, end)


class _Packages:
    """The package files of each directory, computed once per directory."""

    def __init__(self, paths: Sequence[str], facts: Mapping[int, GoFile]) -> None:
        self.files: dict[str, list[int]] = {}
        for index in sorted(facts):
            self.files.setdefault(_directory(paths[index]), []).append(index)
        self.paths = paths
        self.facts = facts
        self._cache: dict[str, list[int]] = {}

    def of(self, directory: str) -> list[int]:
        """Node indices of the package files in `directory` (empty when there are none)."""
        cached = self._cache.get(directory)
        if cached is None:
            cached = self._cache[directory] = self._package_files(directory)
        return cached

    def _package_files(self, directory: str) -> list[int]:
        buildable = [i for i in self.files.get(directory, ()) if self._buildable(i)]
        counts = Counter(self.facts[i].package for i in buildable)
        if not counts:
            return []
        package = max(sorted(counts), key=lambda name: counts[name])
        return [i for i in buildable if self.facts[i].package == package]

    def _buildable(self, index: int) -> bool:
        name = self.paths[index].rpartition("/")[2]
        fact = self.facts[index]
        return not (
            name.endswith("_test.go")
            or name.startswith(("_", "."))
            or fact.ignored
            or fact.package in _IGNORED_PACKAGES
        )


def _valid(import_path: str) -> bool:
    """Whether a module could hold `import_path`: no empty, `.` or `..` element."""
    return all(part not in ("", ".", "..") for part in import_path.split("/"))


def _gopath_root(paths: Sequence[str], facts: Mapping[int, GoFile]) -> str | None:
    """The import path of the repository root that most import comments imply
    (`a/b/c.go` saying `// import "example.com/r/a/b"` implies "example.com/r")."""
    votes: Counter[str] = Counter()
    for index, fact in facts.items():
        directory = _directory(paths[index])
        suffix = f"/{directory}" if directory else ""
        comment = fact.import_comment
        if comment.endswith(suffix) and _valid(comment[: len(comment) - len(suffix)]):
            votes[comment[: len(comment) - len(suffix)]] += 1
    return max(sorted(votes), key=lambda root: votes[root]) if votes else None


def resolve(repo: RepoIndex, facts: Mapping[int, GoFile]) -> Resolution:
    """Edges and unresolved imports for the Go files `facts` is keyed by (node indices)."""
    modules = _Modules(repo)
    if not modules.roots:
        root = _gopath_root(repo.paths, facts)
        if root is not None:
            modules.add(root, "", module_root=True)
    packages = _Packages(repo.paths, facts)
    resolution = Resolution()
    for source in sorted(facts):
        own = modules.owner(_directory(repo.paths[source]))
        for import_path in facts[source].imports:
            targets = _targets(modules, packages, import_path, own)
            for target in targets:
                resolution.add_edge(source, target, graph_pb2.EDGE_KIND_IMPORT)
            if not targets:
                resolution.add_unresolved(source, import_path)
    return resolution


def _targets(
    modules: _Modules, packages: _Packages, import_path: str, own: str | None
) -> list[int]:
    """The package files `import_path` names, or [] when no module of the repository has it."""
    if not _valid(import_path):
        return []
    for module_dir, package_dir in modules.candidates(import_path, own):
        files = packages.of(package_dir)
        if files and modules.owner(package_dir) == module_dir:
            return files
    return []
