"""Read and extract files in worker processes, so that no file can hurt the caller.

Files are read from a directory, or by blob id from a git repository's objects
(`GitObjects`: each worker keeps one `git cat-file --batch` open, `blob_reader.py`).

tree-sitter runs in C, where Python cannot interrupt it, and a crafted file of a
few kilobytes can make it take gigabytes or minutes (see `treesitter.py`). So files
are parsed only in worker processes, never in the caller (a gRPC server); a worker
may grow by at most `WORKER_MEMORY_BYTES` of address space (past it tree-sitter's
allocation fails and the worker dies) and spend at most `FILE_CPU_SECONDS` of CPU
on one file (past it SIGVTALRM's default action ends the worker). When a worker
dies, the files the workers were on are parsed again one at a time in a fresh
pool: a file that kills its worker again is recorded as failed, and every other
file is still parsed. A failure to read or parse one file never stops the others
(R4.4).

Workers start through forkserver, not fork, because the parser runs inside a
multi-threaded gRPC server; the forkserver imports the extractors (and their
grammars) once and workers fork from it. Like any spawned process they re-import
the main module: run from a script or `-m` module, not from stdin.

The pools stay warm between calls (`_WarmPools`): a job's files go to workers already
running, each pool serving one call at a time. A pool whose worker died, or whose call
raised, is shut down instead; an idle one is shut down after `IDLE_SECONDS`, a pool is
replaced after `CALLS_PER_POOL` calls, so memory cannot creep, and a worker ends by
itself once the process it works for is gone.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from services.parser.blob_reader import GitObjects, close_when_gone, read_blob
from services.parser.git_process import CloneError
from services.parser.plugins import PLUGINS
from services.parser.records import Extraction, read_regular_file

WORKER_MEMORY_BYTES = 2 << 30
"""How much address space a worker may add to what it starts with."""
FILE_CPU_SECONDS = 10.0
"""CPU time a worker may spend on one file; real files take well under a second."""
BINARY_SNIFF_BYTES = 8192
BINARY = "binary file (NUL byte in the first 8 KiB)"
WORKER_DIED = (
    "the parser worker died on this file (over its memory or CPU budget, or a crash in tree-sitter)"
)
MAX_WORKER_DEATHS = 16
"""A repository whose files kill this many workers is given up on (ParseWorkersFailed)."""

CHUNKS_PER_WORKER = 8
"""Work is cut into this many chunks per worker: fewer costs balance, more costs IPC."""
IDLE_SECONDS = 300.0
"""A warm pool not used for this long is shut down (its workers hold memory)."""
CALLS_PER_POOL = 64
"""Calls a pool serves before it is replaced by a fresh one (not `max_tasks_per_child`:
with it Python 3.11's pool can hang once a worker has retired)."""
OWNER_CHECK_SECONDS = 1.0
"""How often a worker checks that the process it works for is still there."""

_MP_CONTEXT = multiprocessing.get_context("forkserver")
_MP_CONTEXT.set_forkserver_preload([__name__])

Outcome = Extraction | str
"""A file's extraction, or the reason it did not become a node."""
Work = Sequence[tuple[str, int, str]]
"""Files to extract: (repository-relative path, `graph_pb2.Language`, git blob id; the
id is read only when the files come from a repository's objects)."""

_marker_fd = -1


class ParseWorkersFailed(RuntimeError):
    """The worker processes could not run at all (e.g. the pool could not start)."""


def _vm_size_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _exit_when_gone(owner: int) -> None:
    """End this worker once `owner`, the process whose pool it serves, is gone: an idle
    warm worker would otherwise outlive a killed parser (its parent is the forkserver).
    Its blob reader is closed once the build it read for is over."""
    while True:
        time.sleep(OWNER_CHECK_SECONDS)
        close_when_gone()
        try:
            os.kill(owner, 0)
        except ProcessLookupError:
            os._exit(0)


def _init_worker(marker_dir: str, memory_bytes: int, owner: int) -> None:
    """Watch `owner`, cap this worker's address space, let SIGVTALRM end it, and open
    the file it marks its progress in."""
    global _marker_fd
    threading.Thread(target=_exit_when_gone, args=(owner,), daemon=True).start()
    signal.signal(signal.SIGVTALRM, signal.SIG_DFL)
    _marker_fd = os.open(
        os.path.join(marker_dir, str(os.getpid())), os.O_WRONLY | os.O_CREAT, 0o600
    )
    if os.path.exists("/proc/self/status"):
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = _vm_size_bytes() + memory_bytes
        if hard == resource.RLIM_INFINITY or cap < hard:
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def _mark(index: int) -> None:
    """Record which file this worker is on (-1: none), for the parent to read if it dies."""
    os.pwrite(_marker_fd, index.to_bytes(8, "little", signed=True), 0)


def _read(source: str | GitObjects, path: str, blob: str, limit: int) -> bytes:
    """A file's bytes: from the directory `source`, or by blob id from its objects."""
    if isinstance(source, GitObjects):
        return read_blob(source, blob, limit)
    return read_regular_file(os.path.join(source, path), limit)


def _extract_chunk(
    source: str | GitObjects, items: Sequence[tuple[int, str, int, str]], limit: int
) -> list[tuple[int, Outcome]]:
    """Read and extract files (worker side), each outcome with its index. A damaged
    object store (CloneError from the blob reader) ends the chunk and fails the build."""
    outcomes: list[tuple[int, Outcome]] = []
    for index, path, language, blob in items:
        _mark(index)
        signal.setitimer(signal.ITIMER_VIRTUAL, FILE_CPU_SECONDS)
        try:
            data = _read(source, path, blob, limit)
            if b"\0" in data[:BINARY_SNIFF_BYTES]:
                outcomes.append((index, BINARY))
            else:
                outcomes.append((index, PLUGINS[language].extract(path, data)))
        except CloneError:
            raise
        except OSError as exc:
            outcomes.append((index, f"unreadable: {exc.strerror or exc}"))
        except Exception as exc:
            outcomes.append((index, f"parse failed: {type(exc).__name__}: {exc}"[:500]))
        finally:
            signal.setitimer(signal.ITIMER_VIRTUAL, 0)
    _mark(-1)
    return outcomes


def extract_files(
    source: Path | GitObjects,
    work: Work,
    *,
    max_file_bytes: int,
    workers: int,
    advance: Callable[[int], None],
) -> list[Outcome]:
    """Each file's outcome, in `work` order, read from the directory `source` or from
    its objects; `advance(n)` as n more are done.

    An exception from `advance` stops the extraction (that is how a job is cancelled);
    a damaged object store raises `CloneError` (`blob_reader.py`).
    """
    outcomes: list[Outcome | None] = [None] * len(work)
    todo = list(range(len(work)))
    batch = _Batch(source, work, max_file_bytes, outcomes, advance)
    deaths = 0
    while todo:
        for index in batch.run(todo, workers):  # the workers were on these when one died
            if outcomes[index] is None and batch.run([index], 1):
                outcomes[index] = WORKER_DIED
                advance(1)
                deaths += 1
                if deaths >= MAX_WORKER_DEATHS:
                    raise ParseWorkersFailed(f"{deaths} files killed their parser worker")
        todo = [index for index in todo if outcomes[index] is None]
    return [outcome for outcome in outcomes if outcome is not None]


class _Workers:
    """A process pool and the directory where each of its workers marks its file."""

    def __init__(self, size: int, memory_bytes: int) -> None:
        self.key = (size, memory_bytes)
        self.markers = tempfile.mkdtemp(prefix="alexandria-workers-")
        self.executor = ProcessPoolExecutor(
            max_workers=size,
            mp_context=_MP_CONTEXT,
            initializer=_init_worker,
            initargs=(self.markers, memory_bytes, os.getpid()),
        )
        self.idle_timer: threading.Timer | None = None
        self.calls = 0

    def suspects(self) -> list[int]:
        """The files the workers were on (after one died)."""
        suspects = []
        for name in os.listdir(self.markers):
            with open(os.path.join(self.markers, name), "rb") as marker:
                index = int.from_bytes(marker.read(8) or b"\xff" * 8, "little", signed=True)
            if index >= 0:
                suspects.append(index)
        if not suspects:
            raise ParseWorkersFailed("the parser worker processes died before parsing a file")
        return sorted(suspects)

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self.markers, ignore_errors=True)


class _WarmPools:
    """Pools kept running between calls, by size and worker memory cap; each serves
    one call at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[tuple[int, int], list[_Workers]] = {}

    def take(self, size: int) -> _Workers:
        key = (size, WORKER_MEMORY_BYTES)
        with self._lock:
            idle = self._idle.get(key)
            workers = idle.pop() if idle else None
        if workers is None:
            return _Workers(*key)
        if workers.idle_timer is not None:
            workers.idle_timer.cancel()
        return workers

    def give_back(self, workers: _Workers) -> None:
        workers.calls += 1
        if workers.calls >= CALLS_PER_POOL:
            workers.close()
            return
        timer = threading.Timer(IDLE_SECONDS, self._expire, args=(workers,))
        timer.daemon = True
        workers.idle_timer = timer
        with self._lock:
            self._idle.setdefault(workers.key, []).append(workers)
        timer.start()

    def _expire(self, workers: _Workers) -> None:
        with self._lock:
            idle = self._idle.get(workers.key, [])
            if workers not in idle:
                return  # taken again meanwhile
            idle.remove(workers)
        workers.close()


_WARM = _WarmPools()


class _Batch:
    """One call's files, run on warm pools, filling `outcomes` in place."""

    def __init__(
        self,
        source: Path | GitObjects,
        work: Work,
        limit: int,
        outcomes: list[Outcome | None],
        advance: Callable[[int], None],
    ) -> None:
        self.source = source if isinstance(source, GitObjects) else str(source)
        self.work, self.limit = work, limit
        self.outcomes, self.advance = outcomes, advance

    def run(self, indices: Sequence[int], workers: int) -> list[int]:
        """Extract `indices`; [] when all were done, else (a worker died) the files the
        workers were on, the rest being left for the next run."""
        size = max(1, -(-len(indices) // (workers * CHUNKS_PER_WORKER)))
        pool = _WARM.take(min(workers, len(indices)))
        healthy = False
        try:
            futures = [
                pool.executor.submit(
                    _extract_chunk,
                    self.source,
                    [(i, *self.work[i]) for i in indices[start : start + size]],
                    self.limit,
                )
                for start in range(0, len(indices), size)
            ]
            for future in as_completed(futures):
                try:
                    results = future.result()
                except BrokenProcessPool:
                    return pool.suspects()
                for index, outcome in results:
                    self.outcomes[index] = outcome
                self.advance(len(results))
            healthy = True
        finally:
            if healthy:
                _WARM.give_back(pool)
            else:
                pool.close()
        return []
