"""Read and extract files in worker processes, so that no file can hurt the caller.

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
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import signal
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

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

_MP_CONTEXT = multiprocessing.get_context("forkserver")
_MP_CONTEXT.set_forkserver_preload([__name__])

Outcome = Extraction | str
"""A file's extraction, or the reason it did not become a node."""
Work = Sequence[tuple[str, int]]
"""Files to extract: (repository-relative path, `graph_pb2.Language`)."""

_marker_fd = -1


class ParseWorkersFailed(RuntimeError):
    """The worker processes could not run at all (e.g. the pool could not start)."""


def _vm_size_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _init_worker(marker_dir: str, memory_bytes: int) -> None:
    """Cap this worker's address space, let SIGVTALRM end it, and open the file it
    marks its progress in."""
    global _marker_fd
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


def _extract_chunk(
    root: str, items: Sequence[tuple[int, str, int]], limit: int
) -> list[tuple[int, Outcome]]:
    """Read and extract files (worker side), each outcome with its index."""
    outcomes: list[tuple[int, Outcome]] = []
    for index, path, language in items:
        _mark(index)
        signal.setitimer(signal.ITIMER_VIRTUAL, FILE_CPU_SECONDS)
        try:
            data = read_regular_file(os.path.join(root, path), limit)
            if b"\0" in data[:BINARY_SNIFF_BYTES]:
                outcomes.append((index, BINARY))
            else:
                outcomes.append((index, PLUGINS[language].extract(path, data)))
        except OSError as exc:
            outcomes.append((index, f"unreadable: {exc.strerror or exc}"))
        except Exception as exc:
            outcomes.append((index, f"parse failed: {type(exc).__name__}: {exc}"[:500]))
        finally:
            signal.setitimer(signal.ITIMER_VIRTUAL, 0)
    _mark(-1)
    return outcomes


def extract_files(
    root: Path,
    work: Work,
    *,
    max_file_bytes: int,
    workers: int,
    advance: Callable[[int], None],
) -> list[Outcome]:
    """Each file's outcome, in `work` order; `advance(n)` as n more are done.

    An exception from `advance` stops the extraction (that is how a job is cancelled).
    """
    outcomes: list[Outcome | None] = [None] * len(work)
    todo = list(range(len(work)))
    with tempfile.TemporaryDirectory(prefix="alexandria-workers-") as markers:
        pool = _Pool(root, work, max_file_bytes, markers, outcomes, advance)
        deaths = 0
        while todo:
            for index in pool.run(todo, workers):  # the workers were on these when one died
                if outcomes[index] is None and pool.run([index], 1):
                    outcomes[index] = WORKER_DIED
                    advance(1)
                    deaths += 1
                    if deaths >= MAX_WORKER_DEATHS:
                        raise ParseWorkersFailed(f"{deaths} files killed their parser worker")
            todo = [index for index in todo if outcomes[index] is None]
    return [outcome for outcome in outcomes if outcome is not None]


class _Pool:
    """Runs batches of files in fresh process pools, filling `outcomes` in place."""

    def __init__(
        self,
        root: Path,
        work: Work,
        limit: int,
        markers: str,
        outcomes: list[Outcome | None],
        advance: Callable[[int], None],
    ) -> None:
        self.root, self.work, self.limit = str(root), work, limit
        self.markers, self.outcomes, self.advance = markers, outcomes, advance

    def run(self, indices: Sequence[int], workers: int) -> list[int]:
        """Extract `indices`; [] when all were done, else (a worker died) the files the
        workers were on, the rest being left for the next run."""
        for stale in os.listdir(self.markers):
            os.unlink(os.path.join(self.markers, stale))
        size = max(1, -(-len(indices) // (workers * CHUNKS_PER_WORKER)))
        pool = ProcessPoolExecutor(
            max_workers=min(workers, len(indices)),
            mp_context=_MP_CONTEXT,
            initializer=_init_worker,
            initargs=(self.markers, WORKER_MEMORY_BYTES),
        )
        try:
            futures = [
                pool.submit(
                    _extract_chunk,
                    self.root,
                    [(i, *self.work[i]) for i in indices[start : start + size]],
                    self.limit,
                )
                for start in range(0, len(indices), size)
            ]
            for future in as_completed(futures):
                try:
                    results = future.result()
                except BrokenProcessPool:
                    return self._suspects()
                for index, outcome in results:
                    self.outcomes[index] = outcome
                self.advance(len(results))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return []

    def _suspects(self) -> list[int]:
        suspects = []
        for name in os.listdir(self.markers):
            with open(os.path.join(self.markers, name), "rb") as marker:
                index = int.from_bytes(marker.read(8) or b"\xff" * 8, "little", signed=True)
            if index >= 0:
                suspects.append(index)
        if not suspects:
            raise ParseWorkersFailed("the parser worker processes died before parsing a file")
        return sorted(suspects)
