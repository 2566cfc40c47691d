"""Resolve JavaScript/TypeScript imports to files of the repository (docs/architecture.md,
"Import resolution"), the way Node, TypeScript and dependency-cruiser do.

Only nodes (`RepoIndex.paths`) are files: `./data.json` or `./x.css` names none.

- Relative (`./x`, `../x`, `.`, `..`): the exact file; else, for a `.js`/`.jsx`/`.mjs`/
  `.cjs` specifier, its TypeScript source (`.ts`/`.tsx`/`.d.ts`, `.tsx`, `.mts`,
  `.cts`); else the path plus an extension; else the directory: its package.json
  entry fields, then `index` plus an extension. A trailing `/` asks for the directory.
  Importers written in TypeScript try `.ts .tsx .d.ts .js .jsx .mjs .cjs .mts .cts`,
  entry fields `types typings module main` and export conditions
  `types import module require node default`; JavaScript importers try
  `.js .jsx .mjs .cjs .ts .tsx .mts .cts .d.ts`, `module main types typings` and
  `import module require node default types`. Leaving the repository → unresolved.
- Bare (`x`, `@s/x/y`), in this order: tsconfig `paths` (exact key, else the pattern
  with the longest prefix before its one `*`; each substitution in order, relative
  to `baseUrl` if set, else to the config declaring `paths`), then `baseUrl` itself,
  then workspace packages. The config governing a file is the nearest `tsconfig.json`
  (else `jsconfig.json`) in its directory or an ancestor, `files`/`include` aside;
  `extends` (relative with or without `.json`, an array, or a workspace package) is
  followed, later configs overriding earlier ones option by option. When the whole
  chain sets neither option but the config lists `references`, the first referenced
  config that sets one is used (a Vite-style solution tsconfig).
- Workspace packages: every package.json with a `name` maps it to its directory.
  `name` → `exports` "." (a string, an array of fallbacks, or conditions, nested,
  in the order above), then the entry fields, then `src/index.*`, then `index.*`;
  `name/sub` → the `exports` key `./sub` (exact, else the longest `*` pattern), then
  the path `sub` in the package. A target that names no file but lies in a build
  directory (`dist/`, `lib/`, `build/`, `out/`, optionally followed by a format
  directory such as `esm/`) is retried under `src/` without its output extension,
  since build output is rarely committed (and the walk skips `dist/` and `build/`).
- `#x`: the `imports` map of the nearest package.json, like `exports`.
- `node:x` builtins, absolute paths, npm dependencies, anything else → unresolved,
  recorded with the specifier as written. A specifier over `MAX_SPECIFIER`
  characters or with a NUL byte is unresolved without being looked at; configuration
  reads go through `RepoIndex.read_text`, each file once, and `extends` chains,
  condition nesting and candidate lists are bounded.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from neo_alexandria.v1 import graph_pb2
from services.parser import jsonc
from services.parser.js_imports import JsImport
from services.parser.languages import language_of
from services.parser.records import MAX_SPECIFIER, RepoIndex, Resolution

MAX_DEPTH = 8
"""Deepest `extends` chain and nesting of export conditions followed."""
MAX_CANDIDATES = 32
"""Most fallback targets or `paths` substitutions tried for one specifier."""
MAX_VISITS = 256
"""Most values of one exports/imports entry looked at."""
MAX_PATTERNS = 1024
"""Keys read from one `paths`, `exports` or `imports` map."""

_CONFIG_NAMES = ("tsconfig.json", "jsconfig.json")
_TS_SOURCES = {
    ".js": (".ts", ".tsx", ".d.ts"),
    ".jsx": (".tsx",),
    ".mjs": (".mts", ".d.mts"),
    ".cjs": (".cts", ".d.cts"),
}
_BUILD_DIRS = frozenset({"dist", "lib", "build", "out"})
_FORMAT_DIRS = frozenset({"esm", "cjs", "mjs", "es", "umd", "types"})
_OUTPUT_EXTENSIONS = (".d.ts", ".d.mts", ".d.cts", ".js", ".mjs", ".cjs", ".jsx")


@dataclass(frozen=True, slots=True, eq=False)
class _Flavor:
    """How an importer's own language orders the candidates."""

    extensions: tuple[str, ...]
    fields: tuple[str, ...]
    conditions: tuple[str, ...]


_TS = _Flavor(
    (".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts"),
    ("types", "typings", "module", "main"),
    ("types", "import", "module", "require", "node", "default"),
)
_JS = _Flavor(
    (".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts", ".d.ts"),
    ("module", "main", "types", "typings"),
    ("import", "module", "require", "node", "default", "types"),
)


class _Patterns:
    """A map whose keys hold at most one `*` (tsconfig `paths`, package `exports`/`imports`;
    the first `MAX_PATTERNS` keys): an exact key wins, else the pattern with the longest
    prefix, then the longest suffix."""

    def __init__(self, mapping: Mapping[str, Any]) -> None:
        self.exact: dict[str, Any] = {}
        self.wildcards: list[tuple[str, str, Any]] = []
        for key, value in itertools.islice(mapping.items(), MAX_PATTERNS):
            if "*" not in key:
                self.exact[key] = value
            elif key.count("*") == 1:
                prefix, _, suffix = key.partition("*")
                self.wildcards.append((prefix, suffix, value))
        self.wildcards.sort(key=lambda w: (-len(w[0]), -len(w[1])))

    def match(self, key: str) -> tuple[Any, str | None] | None:
        """The value for `key` and what its `*` matched (None for an exact key)."""
        if key in self.exact:
            return self.exact[key], None
        for prefix, suffix, value in self.wildcards:
            fits = len(key) >= len(prefix) + len(suffix)
            if fits and key.startswith(prefix) and key.endswith(suffix):
                return value, key[len(prefix) : len(key) - len(suffix)]
        return None


@dataclass(frozen=True, slots=True)
class _Options:
    """The compilerOptions that matter: `baseUrl` (a directory) and the `paths` map with
    the directory of the config that declared it."""

    base_url: str | None = None
    paths: _Patterns | None = None
    paths_dir: str = ""

    def over(self, base: _Options) -> _Options:
        """These options where set, else `base`'s."""
        paths = self if self.paths is not None else base
        return _Options(
            self.base_url if self.base_url is not None else base.base_url,
            paths.paths,
            paths.paths_dir,
        )


_NO_OPTIONS = _Options()


@dataclass(frozen=True, slots=True)
class _Package:
    """A package.json: its directory, fields, and `exports`/`imports` as subpath maps."""

    directory: str
    data: dict[str, Any]
    exports: _Patterns | None
    imports: _Patterns | None

    @classmethod
    def parse(cls, directory: str, data: dict[str, Any]) -> _Package:
        exports = data.get("exports")
        if isinstance(exports, dict) and any(key.startswith(".") for key in exports):
            subpaths: _Patterns | None = _Patterns(exports)
        else:
            subpaths = None if exports is None else _Patterns({".": exports})
        imports = data.get("imports")
        return cls(
            directory, data, subpaths, _Patterns(imports) if isinstance(imports, dict) else None
        )


def _join(directory: str, name: str) -> str:
    return f"{directory}/{name}" if directory else name


def _dirname(path: str) -> str:
    return path.rpartition("/")[0]


def _normalize(directory: str, relative: str) -> str | None:
    """`relative` taken from `directory` ('' is the root), or None if it is absolute,
    oversized, holds a NUL byte, or leaves the repository."""
    if relative.startswith("/") or len(relative) > MAX_SPECIFIER or "\0" in relative:
        return None
    parts = directory.split("/") if directory else []
    for segment in relative.split("/"):
        if segment == "..":
            if not parts:
                return None
            parts.pop()
        elif segment and segment != ".":
            parts.append(segment)
    return "/".join(parts)


def _directories(paths: Sequence[str]) -> frozenset[str]:
    """Every directory holding one of `paths`, with its ancestors ('' is the root)."""
    found = {""}
    for path in paths:
        directory = _dirname(path)
        while directory not in found:
            found.add(directory)
            directory = _dirname(directory)
    return frozenset(found)


def _split_package(specifier: str) -> tuple[str, str] | None:
    """`@scope/name/sub/path` → ("@scope/name", "sub/path"); `name` → ("name", "")."""
    if specifier.startswith("@"):
        scope, _, rest = specifier.partition("/")
        name, _, subpath = rest.partition("/")
        return (f"{scope}/{name}", subpath) if len(scope) > 1 and name else None
    name, _, subpath = specifier.partition("/")
    return (name, subpath) if name else None


def _conditional(value: Any, conditions: Sequence[str]) -> list[str]:
    """The targets an exports/imports value names, best first: a string, an array of
    fallbacks, or an object of conditions (taken in `conditions` order), nested up to
    `MAX_DEPTH`, looking at no more than `MAX_VISITS` values."""
    found: list[str] = []
    stack = [(value, 0)]
    for _ in range(MAX_VISITS):
        if not stack or len(found) == MAX_CANDIDATES:
            break
        item, depth = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif depth < MAX_DEPTH and isinstance(item, list):
            stack.extend((v, depth + 1) for v in reversed(item[:MAX_CANDIDATES]))
        elif depth < MAX_DEPTH and isinstance(item, dict):
            stack.extend((item[c], depth + 1) for c in reversed(conditions) if c in item)
    return found


def _targets(patterns: _Patterns | None, key: str, conditions: Sequence[str]) -> list[str]:
    """The targets `key` maps to in an exports/imports map, `*` substituted, best first."""
    match = patterns.match(key) if patterns is not None else None
    if match is None:
        return []
    value, star = match
    targets = _conditional(value, conditions)
    return targets if star is None else [target.replace("*", star) for target in targets]


def _build_sources(relative: str) -> list[str]:
    """Where the source of build output `relative` (inside its package) may live:
    `dist/esm/a.js` → `src/esm/a`, `src/a`."""
    parts = relative.split("/")
    if len(parts) < 2 or parts[0] not in _BUILD_DIRS:
        return []
    stems = [["src", *parts[1:]]]
    if len(parts) > 2 and parts[1] in _FORMAT_DIRS:
        stems.append(["src", *parts[2:]])
    found = []
    for stem in stems:
        path = "/".join(stem)
        for extension in _OUTPUT_EXTENSIONS:
            if path.endswith(extension):
                path = path[: -len(extension)]
                break
        found.append(path)
    return found


class _Resolver:
    """One repository's files, configurations and packages, with every lookup cached."""

    def __init__(self, repo: RepoIndex) -> None:
        self.repo = repo
        self.files = {path: index for index, path in enumerate(repo.paths)}
        self.manifests = frozenset(repo.manifests)
        self.directories = _directories([*repo.paths, *repo.manifests])
        self.documents: dict[str, Any] = {}
        self.options: dict[str, _Options] = {}
        self.governing: dict[str, _Options] = {}
        self.packages: dict[str, _Package | None] = {}
        self.workspace: dict[str, str] | None = None
        self.nearest_config: dict[str, str | None] = {}
        self.nearest_package: dict[str, str | None] = {}
        self.by_path: dict[tuple[str, _Flavor], int | None] = {}
        self.by_specifier: dict[tuple[str | None, str, _Flavor], int | None] = {}

    def resolve(self, directory: str, specifier: str, flavor: _Flavor) -> int | None:
        """The node `specifier`, imported from a file in `directory`, names, if any."""
        if len(specifier) > MAX_SPECIFIER or "\0" in specifier:
            return None
        if specifier in (".", "..") or specifier.startswith(("./", "../")):
            target = _normalize(directory, specifier)
            if target is None:
                return None
            if specifier.endswith("/"):
                return self.directory(target, flavor)
            return self.path(target, flavor)
        if not specifier or specifier.startswith(("/", "node:")):
            return None
        if specifier.startswith("#"):
            return self.package_import(directory, specifier, flavor)
        config = self.nearest(directory, _CONFIG_NAMES, self.nearest_config)
        key = (config, specifier, flavor)
        if key not in self.by_specifier:
            options = self.config(config) if config is not None else _NO_OPTIONS
            found = self.configured(options, specifier, flavor)
            if found is None:
                found = self.workspace_package(specifier, flavor)
            self.by_specifier[key] = found
        return self.by_specifier[key]

    # -- files and directories -------------------------------------------------------

    def path(self, target: str, flavor: _Flavor) -> int | None:
        """The file `target` names: exact, TypeScript source, extension, then directory."""
        key = (target, flavor)
        if key in self.by_path:
            return self.by_path[key]
        self.by_path[key] = None  # a package.json whose entry is its own directory
        found = self.file(target, flavor) if target else None
        if found is None:
            found = self.directory(target, flavor)
        self.by_path[key] = found
        return found

    def file(self, target: str, flavor: _Flavor) -> int | None:
        if _dirname(target) not in self.directories:
            return None
        found = self.files.get(target)
        if found is not None:
            return found
        stem, dot, extension = target.rpartition(".")
        if dot and "/" not in extension:
            for source in _TS_SOURCES.get("." + extension, ()):
                found = self.files.get(stem + source)
                if found is not None:
                    return found
        for extension in flavor.extensions:
            found = self.files.get(target + extension)
            if found is not None:
                return found
        return None

    def directory(self, directory: str, flavor: _Flavor) -> int | None:
        package = self.package(directory)
        found = self.entry_fields(package, flavor) if package is not None else None
        return found if found is not None else self.index(directory, flavor)

    def index(self, directory: str, flavor: _Flavor) -> int | None:
        if directory not in self.directories:
            return None
        for extension in flavor.extensions:
            found = self.files.get(_join(directory, "index" + extension))
            if found is not None:
                return found
        return None

    # -- packages --------------------------------------------------------------------

    def package(self, directory: str) -> _Package | None:
        """The package.json of `directory`, parsed once (None if absent or not an object)."""
        if directory not in self.packages:
            manifest = _join(directory, "package.json")
            data = self.document(manifest) if manifest in self.manifests else None
            self.packages[directory] = (
                _Package.parse(directory, data) if isinstance(data, dict) else None
            )
        return self.packages[directory]

    def entry(self, package: _Package, target: str, flavor: _Flavor) -> int | None:
        """The file a package entry names, else its source when it is missing build output."""
        path = _normalize(package.directory, target)
        if path is None:
            return None
        found = self.path(path, flavor)
        prefix = _join(package.directory, "")
        if found is not None or not path.startswith(prefix):
            return found
        for source in _build_sources(path[len(prefix) :]):
            found = self.path(_join(package.directory, source), flavor)
            if found is not None:
                return found
        return None

    def entry_fields(self, package: _Package, flavor: _Flavor) -> int | None:
        for field in flavor.fields:
            value = package.data.get(field)
            found = self.entry(package, value, flavor) if isinstance(value, str) else None
            if found is not None:
                return found
        return None

    def exported(self, package: _Package, key: str, flavor: _Flavor) -> int | None:
        for target in _targets(package.exports, key, flavor.conditions):
            found = self.entry(package, target, flavor)
            if found is not None:
                return found
        return None

    def workspace_package(self, specifier: str, flavor: _Flavor) -> int | None:
        """A workspace package by name, or a path inside one."""
        split = _split_package(specifier)
        directory = self.workspace_packages().get(split[0]) if split is not None else None
        package = self.package(directory) if directory is not None else None
        if split is None or package is None:
            return None
        if split[1]:
            return self.package_subpath(package, split[1], flavor)
        found = self.exported(package, ".", flavor)
        if found is None:
            found = self.entry_fields(package, flavor)
        if found is None:
            found = self.index(_join(package.directory, "src"), flavor)
        return found if found is not None else self.index(package.directory, flavor)

    def package_subpath(self, package: _Package, subpath: str, flavor: _Flavor) -> int | None:
        """`name/sub`: the exports key `./sub`, else the path `sub` inside the package."""
        found = self.exported(package, "./" + subpath, flavor)
        if found is not None:
            return found
        target = _normalize(package.directory, subpath)
        if target is None or not target.startswith(_join(package.directory, "")):
            return None
        return self.path(target, flavor)

    def workspace_packages(self) -> dict[str, str]:
        """Package name → directory, for every package.json with a name (shallowest wins)."""
        if self.workspace is None:
            self.workspace = {}
            manifests = [m for m in self.manifests if m.rpartition("/")[2] == "package.json"]
            for manifest in sorted(manifests, key=lambda m: (m.count("/"), m)):
                if "node_modules" in manifest.split("/"):
                    continue
                package = self.package(_dirname(manifest))
                name = package.data.get("name") if package is not None else None
                if isinstance(name, str) and name:
                    self.workspace.setdefault(name, _dirname(manifest))
        return self.workspace

    def package_import(self, directory: str, specifier: str, flavor: _Flavor) -> int | None:
        """`#x` through the `imports` map of the nearest package.json."""
        manifest = self.nearest(directory, ("package.json",), self.nearest_package)
        package = self.package(_dirname(manifest)) if manifest is not None else None
        if package is None:
            return None
        for target in _targets(package.imports, specifier, flavor.conditions):
            if target.startswith(("./", "../")):
                found = self.entry(package, target, flavor)
            else:
                found = None if target.startswith("#") else self.workspace_package(target, flavor)
            if found is not None:
                return found
        return None

    # -- tsconfig / jsconfig -----------------------------------------------------------

    def nearest(
        self, directory: str, names: Sequence[str], cache: dict[str, str | None]
    ) -> str | None:
        """The first manifest of `names` in `directory` or its nearest ancestor having one."""
        if directory in cache:
            return cache[directory]
        pending: list[str] = []
        current: str | None = directory
        found: str | None = None
        while current is not None:
            if current in cache:
                found = cache[current]
                break
            pending.append(current)
            found = next((p for n in names if (p := _join(current, n)) in self.manifests), None)
            if found is not None:
                break
            current = _dirname(current) if current else None
        for visited in pending:
            cache[visited] = found
        return found

    def document(self, path: str) -> Any:
        """A JSON(C) file of the repository, parsed once (None if unreadable)."""
        if path not in self.documents:
            try:
                text = self.repo.read_text(path)
            except OSError:  # read_text lets IsADirectoryError through
                text = None
            self.documents[path] = jsonc.loads(text) if text is not None else None
        return self.documents[path]

    def config(self, path: str) -> _Options:
        """The options a governing tsconfig/jsconfig sets, `extends` and `references`
        followed (once per config)."""
        if path not in self.governing:
            self.governing[path] = self.referenced(path)
        return self.governing[path]

    def referenced(self, path: str) -> _Options:
        """The options of config `path`, else those of the first config it references
        that sets any."""
        options = self.chain(path, 0)
        if options.base_url is not None or options.paths is not None:
            return options
        data = self.document(path)
        references = data.get("references") if isinstance(data, dict) else None
        for reference in references[:MAX_CANDIDATES] if isinstance(references, list) else ():
            target = reference.get("path") if isinstance(reference, dict) else None
            found = self.config_file(target, _dirname(path)) if isinstance(target, str) else None
            if found is not None:
                options = self.chain(found, 0)
                if options.base_url is not None or options.paths is not None:
                    return options
        return _NO_OPTIONS

    def chain(self, path: str, depth: int) -> _Options:
        """The options of config `path` over those of everything it extends."""
        if path in self.options:
            return self.options[path]
        self.options[path] = _NO_OPTIONS  # an `extends` cycle stops here
        data = self.document(path)
        options = _NO_OPTIONS
        if isinstance(data, dict):
            extends = data.get("extends")
            parents = [extends] if isinstance(extends, str) else extends
            if not isinstance(parents, list) or depth >= MAX_DEPTH:
                parents = []
            for parent in parents[:MAX_CANDIDATES]:
                found = self.extended(parent, _dirname(path)) if isinstance(parent, str) else None
                if found is not None:
                    options = self.chain(found, depth + 1).over(options)
            compiler = data.get("compilerOptions")
            if isinstance(compiler, dict):
                options = _declared(compiler, _dirname(path)).over(options)
        self.options[path] = options
        return options

    def extended(self, name: str, directory: str) -> str | None:
        """The config file an `extends` entry names: relative, or in a workspace package."""
        if name.startswith(("./", "../")):
            return self.config_file(name, directory)
        split = _split_package(name)
        package = self.workspace_packages().get(split[0]) if split is not None else None
        if split is None or package is None:
            return None
        return self.config_file(f"./{split[1] or 'tsconfig.json'}", package)

    def config_file(self, name: str, directory: str) -> str | None:
        """`name` from `directory` as a readable config: as is, plus `.json`, or a
        directory's tsconfig.json."""
        path = _normalize(directory, name)
        if path is None:
            return None
        for candidate in (path, path + ".json", _join(path, "tsconfig.json")):
            if isinstance(self.document(candidate), dict):
                return candidate
        return None

    def configured(self, options: _Options, specifier: str, flavor: _Flavor) -> int | None:
        """A bare specifier through `paths`, then `baseUrl`."""
        if options.paths is not None:
            base = options.base_url if options.base_url is not None else options.paths_dir
            for substitution in _substitutions(options.paths, specifier):
                target = _normalize(base, substitution)
                found = self.path(target, flavor) if target is not None else None
                if found is not None:
                    return found
        if options.base_url is not None:
            target = _normalize(options.base_url, specifier)
            return self.path(target, flavor) if target is not None else None
        return None


def _declared(compiler: dict[str, Any], directory: str) -> _Options:
    """The `baseUrl` and `paths` one config's compilerOptions declare."""
    base_url = compiler.get("baseUrl")
    paths = compiler.get("paths")
    return _Options(
        _normalize(directory, base_url) if isinstance(base_url, str) else None,
        _Patterns(paths) if isinstance(paths, dict) else None,
        directory,
    )


def _substitutions(paths: _Patterns, specifier: str) -> list[str]:
    """The `paths` substitutions for `specifier`, its `*` match put in."""
    match = paths.match(specifier)
    if match is None or not isinstance(match[0], list):
        return []
    value, star = match
    found = [s for s in value[:MAX_CANDIDATES] if isinstance(s, str)]
    return found if star is None else [s.replace("*", star, 1) for s in found]


def _flavor_of(path: str) -> _Flavor:
    return _TS if language_of(path) == graph_pb2.LANGUAGE_TYPESCRIPT else _JS


def resolve(repo: RepoIndex, facts: Mapping[int, Sequence[JsImport]]) -> Resolution:
    """Edges (of each import's own kind) and unresolved imports for the JavaScript and
    TypeScript files `facts` is keyed by (node indices)."""
    resolver = _Resolver(repo)
    resolution = Resolution()
    for source in sorted(facts):
        path = repo.paths[source]
        directory, flavor = _dirname(path), _flavor_of(path)
        for fact in facts[source]:
            target = resolver.resolve(directory, fact.specifier, flavor)
            if target is None:
                resolution.add_unresolved(source, fact.specifier)
            else:
                resolution.add_edge(source, target, fact.kind)
    return resolution
