"""Blobs read by id straight from a git object store, in the parse workers.

A build from HEAD's tree (`clone.py`) hands the workers `GitObjects`, the repository
its blobs are in, instead of a directory of files: each worker keeps one
`git cat-file --batch` process open on it (`read_blob`) and asks it for each file's
blob by id, so a file to parse is never written out and read back, and the reading is
spread over the workers. git runs as every other git command of the parser does (no
system or global config, no hooks, `protocol.allow=never` and no lazy fetch, so a
partial clone's missing blob is an error, never a download; no filter or attribute
runs for `--batch`; packs are mapped in small windows, as git inherits the worker's
address-space cap). The blob's size, from its header, is checked against the limit
before any content is read, and git has `READ_TIMEOUT_SECONDS` to answer each blob
(a hung disk fails the build as timed out instead of hanging it). A process that
fails (a damaged object kills it) raises `CloneCorrupt` or `CloneError` with git's
words, which fails the job as a damaged repository does everywhere else. The reader
is closed when the build's private directory (`GitObjects.home`) is gone, when the
next build reads another repository, and with its worker.
"""

from __future__ import annotations

import os
import select
import subprocess
import threading
from contextlib import suppress
from dataclasses import dataclass
from typing import IO

from services.parser.git_process import (
    NO_NETWORK,
    CloneCorrupt,
    CloneError,
    CloneTimeout,
    clean_stderr,
    git_env,
    is_corrupt,
)

READ_TIMEOUT_SECONDS = 60.0
"""The longest git may take to answer one blob from local objects before the build
fails (a hung disk or file system must not hang the worker, nor the job's cancel)."""
READ_CHUNK = 1 << 16
_SMALL_PACK_WINDOWS = ("-c", "core.packedGitWindowSize=32m", "-c", "core.packedGitLimit=128m")
"""git maps a pack in windows of up to 1 GiB, up to 8 GiB in all, by default; under
the worker's address-space cap (which git inherits) a larger pack could not be mapped
at all ("packfile … cannot be mapped"). Small windows keep any repository readable."""


@dataclass(frozen=True, slots=True)
class GitObjects:
    """Where the workers read HEAD's blobs: the git `repository` (work tree or git
    directory) they are in, and `home`, the build's private directory, git's HOME."""

    repository: str
    home: str


class BlobTooLarge(OSError):
    """The blob is larger than the file limit; nothing of it was read."""


class _CatFile:
    """One `git cat-file --batch` on a repository, answering blob ids one at a time."""

    def __init__(self, objects: GitObjects) -> None:
        self.objects = objects
        self.process = subprocess.Popen(
            ["git", *NO_NETWORK, *_SMALL_PACK_WINDOWS, "cat-file", "--batch"],
            cwd=objects.repository,
            env={**git_env(objects.home), "GIT_NO_LAZY_FETCH": "1"},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin: IO[bytes] = self.process.stdin
        self.stdout: IO[bytes] = self.process.stdout
        self.poller = select.poll()
        self.poller.register(self.stdout, select.POLLIN)
        self.buffer = bytearray()

    def read(self, blob: str, limit: int) -> bytes:
        """The bytes of `blob`; BlobTooLarge past `limit` bytes, CloneTimeout when git
        says nothing for `READ_TIMEOUT_SECONDS`, CloneError when it cannot give the
        blob (this reader is then closed)."""
        try:
            self.stdin.write(f"{blob}\n".encode("ascii"))
            header = self._take_line().split()
        except OSError:  # the process is gone: its stderr says why
            header = []
        if len(header) != 3 or header[0] != blob.encode("ascii") or header[1] != b"blob":
            raise self._failure(f"git cat-file has no blob {blob}")
        size = int(header[2])
        if size > limit:
            self.close()  # the rest of the stream is that blob: start again next time
            raise BlobTooLarge(0, f"larger than {limit} bytes")
        try:
            data = self._take(size + 1)
        except OSError:
            data = b""
        if data[-1:] != b"\n":
            raise self._failure(f"git cat-file: blob {blob} ended early")
        return data[:-1]

    def _fill(self) -> None:
        """Read what git has written next, waiting at most `READ_TIMEOUT_SECONDS`."""
        if not self.poller.poll(READ_TIMEOUT_SECONDS * 1000):
            self.close()
            raise CloneTimeout(
                f"git cat-file gave nothing for {READ_TIMEOUT_SECONDS:g} s "
                f"in {self.objects.repository}"
            )
        chunk = os.read(self.stdout.fileno(), READ_CHUNK)
        if not chunk:
            raise OSError(0, "git cat-file ended")
        self.buffer += chunk

    def _take_line(self) -> bytes:
        while (end := self.buffer.find(b"\n")) < 0:
            self._fill()
        return self._take(end + 1)

    def _take(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        taken = bytes(self.buffer[:size])
        del self.buffer[:size]
        return taken

    def _failure(self, fallback: str) -> CloneError:
        self._stop()
        assert self.process.stderr is not None
        said = clean_stderr(self.process.stderr.read())
        self.close()
        message = f"git cat-file failed: {said}" if said else fallback
        corrupt = not said or is_corrupt(message, self.objects.repository)
        return (CloneCorrupt if corrupt else CloneError)(message)

    def _stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def close(self) -> None:
        self._stop()
        for pipe in (self.stdin, self.stdout, self.process.stderr):
            if pipe is not None:
                with suppress(OSError):  # unflushed input to a killed process
                    pipe.close()


_lock = threading.Lock()
_reader: _CatFile | None = None


def read_blob(objects: GitObjects, blob: str, limit: int) -> bytes:
    """The bytes of `blob` from `objects`, through this process's long-lived reader
    (started, or replaced when it reads another repository, as needed)."""
    global _reader
    with _lock:
        if _reader is not None and (
            _reader.objects != objects or _reader.process.poll() is not None
        ):
            _reader.close()
            _reader = None
        if _reader is None:
            _reader = _CatFile(objects)
        reader = _reader
        try:
            return reader.read(blob, limit)
        finally:
            if reader.process.returncode is not None:
                _reader = None


def close_when_gone() -> None:
    """Close this process's reader once its build's private directory is removed (the
    build is over; a removed clone's packs are freed only when git closes them)."""
    global _reader
    with _lock:
        if _reader is not None and not os.path.isdir(_reader.objects.home):
            _reader.close()
            _reader = None
