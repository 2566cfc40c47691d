"""Walk a checkout for source files without trusting it.

Symlinks are never followed (a repository can point one at `/etc` or at a huge
tree elsewhere); vendored, hidden and build-output directories are not walked;
oversized and non-UTF-8-named files are skipped with a reason (binary files are
found where files are read, in the parse workers). The order is
sorted, so the same tree always yields the same node order.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

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
    """A file that becomes a node: relative posix path, `graph_pb2.Language`, size."""

    path: str
    language: int
    size: int


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


def walk_sources(root: Path, *, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> WalkResult:
    """Every source file under `root`, and why the other candidates were skipped."""
    result = WalkResult()
    stack = [(str(root), "", 0)]
    while stack:
        directory, prefix, depth = stack.pop()
        if depth > MAX_DEPTH:
            result.skipped.append((prefix.rstrip("/"), f"deeper than {MAX_DEPTH} directories"))
            continue
        try:
            with os.scandir(directory) as entries:
                listing = sorted(entries, key=lambda e: e.name)
        except OSError as exc:
            result.skipped.append(
                (prefix.rstrip("/") or ".", f"unreadable directory: {exc.strerror}")
            )
            continue
        names = {entry.name for entry in listing}
        skip = SKIP_DIRS | BUILD_OUTPUT_DIRS if names & BUILD_FILES else SKIP_DIRS
        for entry in listing:
            _visit(entry, prefix, depth, skip, result, stack, max_file_bytes)
    result.files.sort(key=lambda f: f.path)
    result.manifests.sort()
    result.skipped.sort()
    return result


def _visit(
    entry: os.DirEntry[str],
    prefix: str,
    depth: int,
    skip: frozenset[str],
    result: WalkResult,
    stack: list[tuple[str, str, int]],
    max_file_bytes: int,
) -> None:
    raw = prefix + entry.name
    rel = _printable(raw)
    if rel is None:
        shown = raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        result.skipped.append((shown, "path is not valid UTF-8"))
        return
    if entry.is_symlink():
        result.skipped.append((rel, "symlink not followed"))
        return
    try:
        info = entry.stat(follow_symlinks=False)
    except OSError as exc:
        result.skipped.append((rel, f"unreadable: {exc.strerror}"))
        return
    if stat.S_ISDIR(info.st_mode):
        if entry.name not in skip and not entry.name.startswith("."):
            stack.append((entry.path, rel + "/", depth + 1))
        return
    if not stat.S_ISREG(info.st_mode):
        return
    result.seen += 1
    language = language_of(entry.name)
    if language is None:
        if _is_manifest(entry.name):
            result.manifests.append(rel)
        return
    if info.st_size > max_file_bytes:
        result.skipped.append((rel, f"larger than {max_file_bytes} bytes ({info.st_size})"))
        return
    result.files.append(SourceFile(rel, language, info.st_size))
