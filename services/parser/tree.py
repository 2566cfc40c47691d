"""HEAD's git tree as `git ls-tree -r -l` lists it: what may be written out, and walked.

Only blobs are kept (regular files and symlinks; a submodule is a commit, not a
file), and only paths that stay inside a checkout: none with an empty, `.`, `..` or
`.git` part. A malformed tree (a path twice, a path under a file) keeps the first
entry listed, so every path kept can be written without meeting another; a symlink
whose target no path could hold (`MAX_LINK_BYTES`) is left out. The walk lists this
tree exactly as it lists the same files written to disk (`walk.Tree`); a partial
clone's listing has no sizes yet (`TreeFile.size`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from services.parser.walk import DIRECTORY, FILE, SYMLINK, Entry

SYMLINK_MODE = b"120000"
"""A tree entry's mode for a symbolic link."""
MAX_LINK_BYTES = 4096
"""PATH_MAX: a symlink whose target is longer cannot be made, so it is left out."""


@dataclass(slots=True)
class TreeFile:
    """One blob of the tree: its id, its size (None until known: a partial clone's
    listing has no sizes, its blobs being absent), and whether it is a symlink's target."""

    blob: str
    size: int | None
    symlink: bool = False


_Directory = dict[str, "_Directory | TreeFile"]


class HeadTree:
    """HEAD's files by path (decoded like `os.scandir` names: UTF-8, surrogateescape)."""

    def __init__(self) -> None:
        self.files: dict[str, TreeFile] = {}
        self._top: _Directory = {}

    @classmethod
    def from_listing(cls, entries: Iterable[tuple[bytes, str, int | None, bytes]]) -> HeadTree:
        """The tree of `(mode, blob id, size, raw path)` blob entries, in listing order."""
        tree = cls()
        for mode, blob, size, raw_path in entries:
            symlink = mode == SYMLINK_MODE
            too_long = symlink and size is not None and size > MAX_LINK_BYTES
            if safe_path(raw_path) and not too_long:
                tree.add(os.fsdecode(raw_path), TreeFile(blob, size, symlink))
        return tree

    def add(self, path: str, found: TreeFile) -> bool:
        """Add `path` unless it or one of its directories is already a file, or it is
        already a directory; whether it was added."""
        *parents, name = path.split("/")
        directory = self._top
        for part in parents:
            child = directory.get(part)
            if child is None:
                child = directory[part] = {}
            elif isinstance(child, TreeFile):
                return False
            directory = child
        if name in directory:
            return False
        directory[name] = self.files[path] = found
        return True

    @property
    def blobs(self) -> dict[str, str]:
        """Regular files → blob id (symlinks left out)."""
        return {path: found.blob for path, found in self.files.items() if not found.symlink}

    def entries(self, directory: str) -> list[Entry]:
        """The files and directories directly in `directory` ("" for the top)."""
        found: _Directory | TreeFile | None = self._top
        for part in directory.split("/") if directory else ():
            found = found.get(part) if isinstance(found, dict) else None
        if not isinstance(found, dict):
            return []
        return [_entry(name, child) for name, child in found.items()]


def _entry(name: str, child: _Directory | TreeFile) -> Entry:
    if isinstance(child, dict):
        return Entry(name, DIRECTORY)
    return Entry(name, SYMLINK if child.symlink else FILE, child.size)


def safe_path(raw_path: bytes) -> bool:
    """A tree path that stays inside a checkout: no empty, `.`, `..` or `.git` part."""
    parts = raw_path.split(b"/")
    return all(part and part not in (b".", b"..") and part.lower() != b".git" for part in parts)
