"""Walk a repository's tree for source files without trusting it.

The tree is a directory on disk (`DiskTree`) or HEAD's git tree as `git ls-tree`
lists it (`tree.py`): one walk, one set of rules, over either listing, so the same
tree gives the same result. Symlinks are never followed (a repository can point one
at `/etc` or at a huge tree elsewhere); vendored, hidden and build-output directories
are not walked; oversized and non-UTF-8-named files are skipped with a reason
(binary files are found where files are read, in the parse workers). The order is
sorted, so the same tree always yields the same node order.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from services.parser.languages import language_of

SKIP_DIRS = frozenset(
    {
        ".git",
        "node_modules",
        "vendor",
        "third_party",
        "__pycache__",
        ".venv",
        "venv",
        ".tox",
        ".mypy_cache",
    }
)
"""Never walked: version control, installed dependencies, virtualenvs and caches."""
BUILD_OUTPUT_DIRS = frozenset({"build", "dist", "out", "target"})
BUILD_FILES = frozenset(
    {
        "package.json",
        "tsconfig.json",
        "pom.xml",
        "build.gradle",
        "build.gradle.kts",
        "setup.py",
        "pyproject.toml",
        "Makefile",
    }
)
"""`build`, `dist`, `out` and `target` are build outputs only beside one of these
build files; elsewhere they are ordinary packages (Go's `go/build`, pip's
`operations/build`) and are walked."""
MANIFEST_NAMES = frozenset({"package.json", "go.mod", "go.work"})
MANIFEST_PREFIXES = ("tsconfig", "jsconfig")
"""Configuration files resolvers read: these names, and `tsconfig*.json`/`jsconfig*.json`."""
MAX_DEPTH = 100
"""Directories nested deeper than this are not walked (a hostile repository can nest
thousands); real source trees stay far below it."""
DEFAULT_MAX_FILE_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file that becomes a node: relative posix path, `graph_pb2.Language`, size
    (None while a partial clone's listing does not know it: see `oversized`)."""

    path: str
    language: int
    size: int | None


@dataclass(slots=True)
class WalkResult:
    """Source files (sorted by path), `(path, reason)` skips, regular files seen, and the
    paths of configuration files (`MANIFEST_NAMES`, sorted)."""

    files: list[SourceFile] = field(default_factory=list)
    manifests: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seen: int = 0


def _printable(rel: str) -> str | None:
    """`rel` when it is valid UTF-8 (protobuf strings must be), else None."""
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return rel


def _is_manifest(name: str) -> bool:
    return name in MANIFEST_NAMES or (name.startswith(MANIFEST_PREFIXES) and name.endswith(".json"))


@dataclass(frozen=True, slots=True)
class Entry:
    """One name of a directory listing: its kind (`FILE`, `DIRECTORY`, `SYMLINK` or
    `OTHER`), a file's size (None if not known yet), and why it could not be looked
    at, if it could not."""

    name: str
    kind: str
    size: int | None = 0
    unreadable: str | None = None


FILE, DIRECTORY, SYMLINK, OTHER = "file", "directory", "symlink", "other"


class Tree(Protocol):
    """A tree the walk lists one directory at a time: a directory on disk (`DiskTree`)
    or a git tree as `git ls-tree` lists it (`tree.py`)."""

    def entries(self, directory: str) -> list[Entry]:
        """The entries of `directory` ("" for the top, else a relative posix path);
        OSError when it cannot be read."""
        ...


class DiskTree:
    """The directory `root` on disk, listed with `os.scandir`; symlinks are not followed."""

    def __init__(self, root: Path) -> None:
        self.root = os.fspath(root)

    def entries(self, directory: str) -> list[Entry]:
        with os.scandir(os.path.join(self.root, directory)) as found:
            return [_disk_entry(entry) for entry in found]


def _disk_entry(entry: os.DirEntry[str]) -> Entry:
    if entry.is_symlink():
        return Entry(entry.name, SYMLINK)
    try:
        info = entry.stat(follow_symlinks=False)
    except OSError as exc:
        return Entry(entry.name, OTHER, unreadable=str(exc.strerror))
    if stat.S_ISDIR(info.st_mode):
        return Entry(entry.name, DIRECTORY)
    if stat.S_ISREG(info.st_mode):
        return Entry(entry.name, FILE, info.st_size)
    return Entry(entry.name, OTHER)


def walk_sources(root: Path | Tree, *, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> WalkResult:
    """Every source file of `root` (a directory on disk, or any `Tree`), and why the
    other candidates were skipped."""
    tree = DiskTree(root) if isinstance(root, os.PathLike) else root
    result = WalkResult()
    stack = [("", 0)]
    while stack:
        directory, depth = stack.pop()
        if depth > MAX_DEPTH:
            result.skipped.append((directory, f"deeper than {MAX_DEPTH} directories"))
            continue
        try:
            listing = sorted(tree.entries(directory), key=lambda e: e.name)
        except OSError as exc:
            result.skipped.append((directory or ".", f"unreadable directory: {exc.strerror}"))
            continue
        names = {entry.name for entry in listing}
        skip = SKIP_DIRS | BUILD_OUTPUT_DIRS if names & BUILD_FILES else SKIP_DIRS
        prefix = f"{directory}/" if directory else ""
        for entry in listing:
            _visit(entry, prefix, depth, skip, result, stack, max_file_bytes)
    result.files.sort(key=lambda f: f.path)
    result.manifests.sort()
    result.skipped.sort()
    return result


def _visit(
    entry: Entry,
    prefix: str,
    depth: int,
    skip: frozenset[str],
    result: WalkResult,
    stack: list[tuple[str, int]],
    max_file_bytes: int,
) -> None:
    raw = prefix + entry.name
    rel = _printable(raw)
    if rel is None:
        shown = raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        result.skipped.append((shown, "path is not valid UTF-8"))
        return
    if entry.kind == SYMLINK:
        result.skipped.append((rel, "symlink not followed"))
        return
    if entry.unreadable is not None:
        result.skipped.append((rel, f"unreadable: {entry.unreadable}"))
        return
    if entry.kind == DIRECTORY:
        if entry.name not in skip and not entry.name.startswith("."):
            stack.append((rel, depth + 1))
        return
    if entry.kind != FILE:
        return
    result.seen += 1
    language = language_of(entry.name)
    if language is None:
        if _is_manifest(entry.name):
            result.manifests.append(rel)
        return
    too_large = oversized(entry.size, max_file_bytes)
    if too_large is not None:
        result.skipped.append((rel, too_large))
        return
    result.files.append(SourceFile(rel, language, entry.size))


def oversized(size: int | None, max_file_bytes: int) -> str | None:
    """Why a source file of `size` bytes is skipped, if it is; a size not known yet is
    checked again once it is known (`graph.py`)."""
    if size is not None and size > max_file_bytes:
        return f"larger than {max_file_bytes} bytes ({size})"
    return None
