"""HEAD's files written on demand from a repository's objects (`HeadFiles`), never by a
checkout; or only readied (`HeadFiles.ready`: fetched if missing, sized and counted),
for the parse workers to read from the objects themselves (`blob_reader.py`).

The files asked for are sized first (`git cat-file --batch-check` for those the listing
did not size) and refused past the byte limit before one is written; a partial clone
first fetches their missing blobs in one `git fetch --stdin`. One `git cat-file --batch`
then streams the blobs exactly as committed (no filter, attribute or hook runs) into
files created with O_EXCL | O_NOFOLLOW; symlinks are made as symlinks, after the files,
never followed.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import IO

from services.common.repo_url import is_local
from services.parser import git_process
from services.parser.blob_reader import GitObjects
from services.parser.git_process import (
    LOCAL_UPLOAD_PACK,
    NO_NETWORK,
    CloneCorrupt,
    CloneError,
    CloneTimeout,
    CloneTooLarge,
    clean_stderr,
    download_watch,
    failure,
    git_env,
    is_corrupt,
    transport_options,
)
from services.parser.tree import MAX_LINK_BYTES, HeadTree, TreeFile

COPY_CHUNK = 1 << 20


def _new_file(path: Path) -> IO[bytes] | None:
    """`path` created for writing (0600, never through a symlink); None when a malformed
    tree gives a path twice, or under a file: the first one wins."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        return os.fdopen(os.open(path, flags, 0o600), "wb")
    except OSError:
        return None


class HeadFiles:
    """Writes HEAD's files under `path` on demand, from `repository`'s objects.

    Each `read` writes the files asked for that `tree` has and that are not written
    yet (other paths are ignored). For a partial clone their blobs missing so far are
    first fetched in one `git fetch --stdin` (the download watched against
    `max_bytes`); those the listing did not size (a partial clone's has no sizes) are
    sized (`git cat-file --batch-check`), so that the files written in all stay within
    `max_bytes` before one is written. One `git cat-file --batch` then streams them,
    exactly as committed (no filter, attribute or hook runs). Files are written with
    O_EXCL | O_NOFOLLOW; symlinks are made as symlinks, never followed, after the
    files. Each `read` has `timeout_seconds` of its own."""

    def __init__(
        self,
        repository: Path,
        path: Path,
        tree: HeadTree,
        *,
        workdir: Path,
        url: str,
        cancel: threading.Event | None,
        timeout_seconds: float,
        max_bytes: int,
        partial: bool,
    ) -> None:
        self.repository, self.path, self.tree = repository, path, tree
        self.workdir, self.url, self.cancel = workdir, url, cancel
        self.timeout_seconds, self.max_bytes, self.partial = timeout_seconds, max_bytes, partial
        self.written: set[str] = set()
        self.readied: set[str] = set()
        self.counted: set[str] = set()
        self.fetched: set[str] = set()
        self.read_bytes = 0
        self.closed = False

    @property
    def objects(self) -> GitObjects:
        """Where the parse workers read the blobs of the files made `ready`."""
        return GitObjects(str(self.repository), str(self.workdir))

    def read(self, paths: Iterable[str]) -> dict[str, int]:
        """Write `paths` (see the class docstring); each one's size. Raises like
        `cloned_repository`."""
        return self._within_timeout(self.read_by, paths)

    def ready(self, paths: Iterable[str]) -> dict[str, int]:
        """Make the blobs of `paths` readable from `objects` without writing them (a
        partial clone fetches those it lacks), counted against the byte limit like
        written files; each one's size. Raises like `cloned_repository`."""
        return self._within_timeout(self.ready_by, paths)

    def _within_timeout(
        self, step: Callable[[Iterable[str], float], dict[str, int]], paths: Iterable[str]
    ) -> dict[str, int]:
        try:
            return step(paths, time.monotonic() + self.timeout_seconds)
        except CloneTimeout:
            raise CloneTimeout(
                f"reading {self.url}'s files did not finish within {self.timeout_seconds:g} s"
            ) from None

    def read_by(self, paths: Iterable[str], deadline: float) -> dict[str, int]:
        """`read` by `deadline`."""
        asked = list(paths)
        wanted = self._take(asked, self.written, deadline)
        if wanted:
            self.written.update(wanted)
            _write_blobs(
                self.repository, self.path, wanted, self.workdir, deadline, self.cancel, self.url
            )
        return self._sizes(asked)

    def ready_by(self, paths: Iterable[str], deadline: float) -> dict[str, int]:
        """`ready` by `deadline`."""
        asked = list(paths)
        self.readied.update(self._take(asked, self.readied, deadline))
        return self._sizes(asked)

    def _take(self, paths: list[str], done: set[str], deadline: float) -> dict[str, TreeFile]:
        """Those of `paths` in the tree and not in `done`, fetched (a partial clone's),
        sized and counted against the byte limit (each file once, written or not)."""
        files = self.tree.files
        wanted = {p: files[p] for p in paths if p in files and p not in done}
        if not wanted:
            return wanted
        if self.closed:
            raise CloneError(f"{self.url}'s files were asked for after the clone was removed")
        if self.partial:
            self._fetch(list(wanted.values()), deadline)
        self._size(list(wanted.values()), deadline)
        new = [f for p, f in wanted.items() if p not in self.counted and not f.symlink]
        self.counted.update(wanted)
        self.read_bytes += sum(f.size or 0 for f in new)
        if self.read_bytes > self.max_bytes:
            raise CloneTooLarge(
                f"{self.url} is too large: its files pass {self.max_bytes} bytes "
                "(ALEXANDRIA_MAX_REPO_BYTES)"
            )
        return wanted

    def _sizes(self, paths: list[str]) -> dict[str, int]:
        files = self.tree.files
        return {p: size for p in paths if p in files and (size := files[p].size) is not None}

    def _fetch(self, wanted: list[TreeFile], deadline: float) -> None:
        """Fetch the blobs of `wanted` not fetched yet."""
        missing = list({f.blob: None for f in wanted if f.blob not in self.fetched})
        _fetch_blobs(
            self.url,
            self.repository,
            self.workdir,
            deadline,
            self.cancel,
            missing,
            max_bytes=self.max_bytes,
        )
        self.fetched.update(missing)

    def _size(self, wanted: list[TreeFile], deadline: float) -> None:
        """Size those of `wanted` the listing did not, from their blobs' headers."""
        unsized = list({f.blob: None for f in wanted if f.size is None})
        sizes = _blob_sizes(self.repository, self.workdir, deadline, self.cancel, unsized)
        for found in wanted:
            if found.size is None:
                found.size = sizes.get(found.blob)
                if found.size is None:
                    raise CloneCorrupt(
                        f"git cat-file: {self.url} has no blob {found.blob} (corrupt or missing)"
                    )


def _blob_sizes(
    repository: Path,
    workdir: Path,
    deadline: float,
    cancel: threading.Event | None,
    blobs: list[str],
) -> dict[str, int]:
    """The sizes of those of `blobs` that `repository` holds, read from their headers."""
    if not blobs:
        return {}
    sizes = {}
    with _cat_file(repository, workdir, deadline, cancel, "--batch-check", blobs) as out:
        for line in out.read().decode("ascii", errors="replace").splitlines():
            fields = line.split()
            if len(fields) == 3 and fields[1] == "blob" and fields[2].isdigit():
                sizes[fields[0]] = int(fields[2])
    return sizes


@contextmanager
def _cat_file(
    repository: Path,
    workdir: Path,
    deadline: float,
    cancel: threading.Event | None,
    batch: str,
    blobs: Iterable[str],
) -> Iterator[IO[bytes]]:
    """The output of one `git cat-file <batch>` of `blobs` in `repository`, rewound."""
    with (
        tempfile.TemporaryFile(dir=workdir) as ids,
        tempfile.TemporaryFile(dir=workdir) as out,
    ):
        ids.write("".join(f"{blob}\n" for blob in blobs).encode("ascii"))
        ids.seek(0)
        code, stderr = git_process.run(
            ["git", *NO_NETWORK, "cat-file", batch],
            env=git_env(str(workdir)),
            cwd=str(repository),
            deadline=deadline,
            cancel=cancel,
            stdin=ids,
            stdout=out,
        )
        if code != 0:
            message = f"git cat-file failed: {clean_stderr(stderr)}"
            raise (CloneCorrupt if is_corrupt(message, str(repository)) else CloneError)(message)
        out.seek(0)
        yield out


def _write_blobs(
    repository: Path,
    path: Path,
    files: Mapping[str, TreeFile],
    workdir: Path,
    deadline: float,
    cancel: threading.Event | None,
    url: str,
) -> None:
    """Write `files` under `path` from `repository`'s objects (one `git cat-file --batch`)."""
    paths_of: dict[str, list[str]] = {}
    for rel, found in files.items():
        paths_of.setdefault(found.blob, []).append(rel)
    links: list[tuple[bytes, Path]] = []  # made last, so no write goes through one
    with _cat_file(repository, workdir, deadline, cancel, "--batch", paths_of) as out:
        for blob, rels in paths_of.items():
            header = out.readline().split()
            if len(header) != 3 or header[0] != blob.encode("ascii"):
                raise CloneCorrupt(f"git cat-file: {url} has no blob {blob} (corrupt or missing)")
            size = int(header[2])
            outputs = [_new_file(path / rel) for rel in rels if not files[rel].symlink]
            linked = [path / rel for rel in rels if files[rel].symlink]
            # A symlink's blob is its target: no longer than a path may be.
            link_to = out.read(size) if linked and size <= MAX_LINK_BYTES else None
            with ExitStack() as opened:
                writers = [opened.enter_context(f) for f in outputs if f is not None]
                remaining = 0 if link_to is not None else size
                while remaining > 0:  # copied in chunks: a blob may be as large as the limit
                    chunk = out.read(min(remaining, COPY_CHUNK))
                    if not chunk:
                        raise CloneCorrupt(f"git cat-file: {url}'s blob {blob} ended early")
                    for writer in writers:
                        writer.write(chunk)
                    remaining -= len(chunk)
                if link_to is not None:
                    for writer in writers:
                        writer.write(link_to)
            links.extend((link_to, target) for target in linked if link_to is not None)
            out.read(1)  # the newline after each object
    for content, target in links:
        with suppress(OSError):
            target.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(content, os.fsencode(target))


def _fetch_blobs(
    url: str,
    clone: Path,
    workdir: Path,
    deadline: float,
    cancel: threading.Event | None,
    blobs: list[str],
    *,
    max_bytes: int,
) -> None:
    """Fetch `blobs` into the partial `clone` in one batch, refusing a download (the
    clone's packs) over `max_bytes`."""
    if not blobs:
        return
    command = [
        "git",
        *transport_options(url),
        "-c",
        "fetch.negotiationAlgorithm=noop",
        "fetch",
        "--quiet",
        "--no-tags",
        "--no-write-fetch-head",
        "--recurse-submodules=no",
        *(["--upload-pack", LOCAL_UPLOAD_PACK] if is_local(url) else []),
        "--stdin",
        "origin",
    ]
    with tempfile.TemporaryFile(dir=workdir) as oids:
        oids.write("".join(f"{blob}\n" for blob in blobs).encode("ascii"))
        oids.seek(0)
        code, stderr = git_process.run(
            command,
            env=git_env(str(workdir)),
            cwd=str(clone),
            deadline=deadline,
            cancel=cancel,
            watch=download_watch(url, clone, max_bytes),
            stdin=oids,
        )
    if code != 0:
        message = f"git fetch of {url}'s files failed: {clean_stderr(stderr)}"
        raise failure(message, url, url.removeprefix("file://"), str(clone))(message)
