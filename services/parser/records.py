"""The values a language plugin passes between its extractor and its resolver.

An extractor runs in a worker process on one file's bytes and returns an
`Extraction` whose `facts` are the language's own picklable record (imports, and
for some languages declarations); the resolver runs once per repository over every
file of its language family, sees the repository through a `RepoIndex`, and fills a
`Resolution`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neo_alexandria.v1 import graph_pb2

MAX_SPECIFIER = 1024
"""Unresolved specifiers are cut to this many characters."""
MAX_MANIFEST_BYTES = 1 << 20

# When one file reaches another in several ways, the edge keeps the strongest kind:
# a static runtime import outranks a re-export, then require(), import(), types only.
_KIND_RANK = {
    graph_pb2.EDGE_KIND_IMPORT: 5,
    graph_pb2.EDGE_KIND_REEXPORT: 4,
    graph_pb2.EDGE_KIND_REQUIRE: 3,
    graph_pb2.EDGE_KIND_DYNAMIC: 2,
    graph_pb2.EDGE_KIND_TYPE_ONLY: 1,
}


def read_regular_file(path: str, limit: int) -> bytes:
    """The bytes of `path`, refusing symlinks, anything not a regular file (OSError) and
    files over `limit` bytes (OSError, read no further than that)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(0, "not a regular file")
        chunks, size = [], 0
        while size <= limit and (chunk := os.read(fd, 1 << 16)):
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > limit:
        raise OSError(0, f"larger than {limit} bytes")
    return b"".join(chunks)


@dataclass(frozen=True, slots=True)
class Extraction:
    """One file's facts for its resolver (None when it has none), a parse note, if any,
    its identifier tokens with their counts (`identifiers.py`), sorted by token, and
    the file's size once it is cached (so that a cached file is never read, not even
    for its size)."""

    facts: Any = None
    error: str | None = None
    terms: tuple[tuple[str, int], ...] = ()
    size: int | None = None


@dataclass(frozen=True)
class RepoIndex:
    """What a resolver may know of the repository.

    `paths[i]` is node i's path (relative, '/'-separated); `manifests` lists the
    configuration files the walk found (`package.json`, `tsconfig*.json`,
    `jsconfig*.json`, `go.mod`, `go.work`); `read_text` reads those, or any other
    file a configuration names, without leaving the repository, having `read` write
    it under `root` first when the files are written only as they are needed.
    """

    paths: Sequence[str]
    manifests: Sequence[str] = ()
    root: Path | None = None
    read: Callable[[Iterable[str]], object] | None = None

    def read_text(self, rel: str) -> str | None:
        """The text of repository file `rel`, or None if it is missing, outside the
        repository, reached through a symlink, not a regular file, or over 1 MiB."""
        if self.root is None or not rel or rel.startswith("/") or "\0" in rel:
            return None
        root = os.path.realpath(self.root)
        full = os.path.normpath(os.path.join(root, rel))
        if not full.startswith(root + os.sep):
            return None
        if self.read is not None:
            self.read([os.path.relpath(full, root).replace(os.sep, "/")])
        if os.path.realpath(full) != full:
            return None
        try:
            data = read_regular_file(full, MAX_MANIFEST_BYTES)
        except OSError:
            return None
        return data.decode("utf-8-sig", errors="replace")


@dataclass(slots=True)
class Resolution:
    """Edges and unresolved imports by node index.

    At most one edge per (source, target), keeping the strongest kind; no self-edges;
    each (source, specifier) unresolved once, cut to `MAX_SPECIFIER` characters.
    """

    _edges: dict[tuple[int, int], int] = field(default_factory=dict)
    _unresolved: dict[tuple[int, str], None] = field(default_factory=dict)

    def add_edge(self, source: int, target: int, kind: int) -> None:
        """Record that `source` depends on `target` (a `graph_pb2.EdgeKind`)."""
        if source == target:
            return
        current = self._edges.get((source, target))
        if current is None or _KIND_RANK[kind] > _KIND_RANK[current]:
            self._edges[(source, target)] = kind

    def add_unresolved(self, source: int, specifier: str) -> None:
        """Record an import of `source` that names no file of the repository."""
        self._unresolved[(source, specifier[:MAX_SPECIFIER])] = None

    @property
    def edges(self) -> list[tuple[int, int, int]]:
        """`(source, target, kind)` in insertion order."""
        return [(s, t, k) for (s, t), k in self._edges.items()]

    @property
    def unresolved(self) -> list[tuple[int, str]]:
        """`(source, specifier)` in insertion order."""
        return list(self._unresolved)
