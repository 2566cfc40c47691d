"""Build a repository's file dependency graph, in parallel, and cut it into messages.

The walk and the resolution run in this process; reading and parsing files (the
expensive part) runs in a process pool, each worker keeping its own tree-sitter
parser. Small repositories parse in-process, which is faster than starting a pool.
Workers start through forkserver, so like any spawned process they re-import the
main module: run from a script or `-m` module, not from stdin.
A file that cannot be read or parsed is recorded in `errors` and the rest go on.
"""

from __future__ import annotations

import multiprocessing
import os
import stat
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neo_alexandria.v1 import graph_pb2
from services.parser.cache import ParseCache, fingerprint
from services.parser.plugins import PLUGINS, Resolver
from services.parser.records import Extraction, RepoIndex
from services.parser.walk import DEFAULT_MAX_FILE_BYTES, SourceFile, walk_sources

IN_PROCESS_BELOW_BYTES = 512 * 1024
"""Less source than this parses faster in-process than a pool starts (~0.1 s, ~4 MB/s/core)."""

# forkserver, not fork: the parser runs inside a multi-threaded gRPC server. The
# forkserver imports the extractors (and their grammars) once; workers fork from it.
_MP_CONTEXT = multiprocessing.get_context("forkserver")
_MP_CONTEXT.set_forkserver_preload([__name__])

Progress = Callable[[int, int], None]
_Outcome = Extraction | str  # a string is the reason the file did not become a node


class ParseWorkersFailed(RuntimeError):
    """Every worker process failed (e.g. the pool could not start): the graph would be empty."""


@dataclass(slots=True)
class RepoGraph:
    """Nodes in walk order; edges `(source, target, EdgeKind)` and unresolved by node index."""

    nodes: list[graph_pb2.FileNode] = field(default_factory=list)
    edges: list[tuple[int, int, int]] = field(default_factory=list)
    unresolved: list[tuple[int, str]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    stats: graph_pb2.GraphStats = field(default_factory=graph_pb2.GraphStats)


def _cpu_count() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _read(path: str, limit: int) -> bytes:
    """The file's bytes, refusing symlinks and anything that is not a regular file."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(0, "not a regular file")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise OSError(0, f"larger than {limit} bytes")
    return data


def _extract_chunk(root: str, work: Sequence[tuple[str, int]], limit: int) -> list[_Outcome]:
    """Read and parse files (worker side); one failure never stops the others (R4.4)."""
    outcomes: list[_Outcome] = []
    for path, language in work:
        try:
            data = _read(os.path.join(root, path), limit)
            outcomes.append(PLUGINS[language].extract(path, data))
        except OSError as exc:
            outcomes.append(f"unreadable: {exc.strerror or exc}")
        except Exception as exc:
            outcomes.append(f"parse failed: {type(exc).__name__}: {exc}"[:500])
    return outcomes


def _extract_parallel(
    root: str, work: list[tuple[str, int]], limit: int, workers: int, advance: Callable[[int], None]
) -> list[_Outcome]:
    size = max(1, -(-len(work) // (workers * 4)))
    outcomes: list[_Outcome] = [""] * len(work)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_MP_CONTEXT)
    try:
        futures = {
            pool.submit(_extract_chunk, root, work[start : start + size], limit): start
            for start in range(0, len(work), size)
        }
        succeeded = 0
        for future in as_completed(futures):
            start = futures[future]
            count = min(size, len(work) - start)
            try:
                outcomes[start : start + count] = future.result()
                succeeded += 1
            except Exception as exc:  # a worker died (e.g. BrokenProcessPool): lose its files only
                outcomes[start : start + count] = [f"parser worker failed: {exc}"] * count
            advance(count)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if not succeeded:
        raise ParseWorkersFailed(f"no parser worker process could parse anything: {outcomes[0]}")
    return outcomes


def _resolvers_in_order() -> list[Resolver]:
    """Each distinct resolve function once, in language order (deterministic output)."""
    ordered: list[Resolver] = []
    for _, plugin in sorted(PLUGINS.items()):
        if plugin.resolve not in ordered:
            ordered.append(plugin.resolve)
    return ordered


def _cache_key(source: SourceFile, blobs: Mapping[str, str]) -> str | None:
    blob = blobs.get(source.path)
    if blob is None:
        return None
    return f"{fingerprint(PLUGINS[source.language].extract.__module__)}:{blob}"


def _parse_all(
    root: Path,
    files: Sequence[SourceFile],
    *,
    max_file_bytes: int,
    workers: int,
    on_progress: Progress | None,
    blobs: Mapping[str, str],
    cache: ParseCache | None,
) -> tuple[dict[str, _Outcome], int]:
    """Each file's outcome by path (cached where its blob is known), and the cache hits."""
    keys = {f.path: _cache_key(f, blobs) for f in files} if cache is not None else {}
    hits = cache.get_many(k for k in keys.values() if k) if cache is not None else {}
    outcomes: dict[str, _Outcome] = {}
    for path, key in keys.items():
        if key in hits:
            outcomes[path] = hits[key]
    to_parse = [f for f in files if f.path not in outcomes]
    work = [(f.path, f.language) for f in to_parse]
    done = len(outcomes)

    def advance(count: int) -> None:
        nonlocal done
        done += count
        if on_progress is not None:
            on_progress(done, len(files))

    if outcomes:
        advance(0)  # report the cache hits
    if workers > 1 and len(work) > 1 and sum(f.size for f in to_parse) >= IN_PROCESS_BELOW_BYTES:
        parsed = _extract_parallel(str(root), work, max_file_bytes, workers, advance)
    else:
        parsed = []
        for item in work:
            parsed.extend(_extract_chunk(str(root), [item], max_file_bytes))
            advance(1)
    fresh = dict(zip((path for path, _ in work), parsed, strict=True))
    if cache is not None:
        cache.put_many(
            {
                key: outcome
                for path, outcome in fresh.items()
                if isinstance(outcome, Extraction) and (key := keys.get(path))
            }
        )
    cached = len(outcomes)
    outcomes.update(fresh)
    return outcomes, cached


def build_graph(
    root: Path,
    *,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    workers: int | None = None,
    on_progress: Progress | None = None,
    blobs: Mapping[str, str] | None = None,
    cache: ParseCache | None = None,
) -> RepoGraph:
    """Walk, parse and resolve the repository at `root`.

    `on_progress(files_done, files_total)` is called from this thread as files are
    parsed; an exception it raises aborts the build (that is how a job is cancelled).
    With a `cache` and the checkout's `blobs` (path → git blob id), files whose
    content was parsed before are not parsed again.
    """
    started = time.perf_counter()
    walked = walk_sources(root, max_file_bytes=max_file_bytes)
    outcomes, cached = _parse_all(
        root,
        [f for f in walked.files if f.language in PLUGINS],
        max_file_bytes=max_file_bytes,
        workers=workers or _cpu_count(),
        on_progress=on_progress,
        blobs=blobs or {},
        cache=cache,
    )

    graph = RepoGraph(errors=list(walked.skipped))
    facts: dict[Resolver, dict[int, Any]] = {}
    for source in walked.files:
        outcome = outcomes.get(source.path, Extraction())
        if isinstance(outcome, str):
            graph.errors.append((source.path, outcome))
            continue
        index = len(graph.nodes)
        graph.nodes.append(
            graph_pb2.FileNode(path=source.path, language=source.language, size_bytes=source.size)
        )
        if outcome.error:
            graph.errors.append((source.path, outcome.error))
        if outcome.facts is not None:
            facts.setdefault(PLUGINS[source.language].resolve, {})[index] = outcome.facts
    repo = RepoIndex([node.path for node in graph.nodes], walked.manifests, root)
    for resolve in _resolvers_in_order():
        if resolve in facts:
            resolution = resolve(repo, facts[resolve])
            graph.edges.extend(resolution.edges)
            graph.unresolved.extend(resolution.unresolved)
    graph.errors.sort()
    graph.stats.CopyFrom(
        graph_pb2.GraphStats(
            files_seen=walked.seen,
            files_parsed=len(graph.nodes),
            files_skipped=walked.seen - len(graph.nodes),
            edges=len(graph.edges),
            unresolved=len(graph.unresolved),
            parse_seconds=time.perf_counter() - started,
            files_cached=cached,
        )
    )
    return graph


def to_chunks(
    graph: RepoGraph, *, max_nodes: int = 2000, max_edges: int = 20000, max_bytes: int = 1 << 20
) -> Iterator[graph_pb2.GraphChunk]:
    """The graph as GraphChunk messages, each far below gRPC's 4 MB default.

    All nodes are sent first, then edges, unresolved imports and errors, so every
    index in a chunk refers to a node of this or an earlier chunk. Per chunk: at most
    `max_nodes` nodes (and errors), `max_edges` edges (and unresolved imports), and
    about `max_bytes` of payload. An empty graph yields no chunk.
    """
    sections: tuple[tuple[Sequence[Any], int, Callable[[Any], int], Callable[..., None]], ...] = (
        (graph.nodes, max_nodes, lambda n: len(n.path.encode()) + 16, _add_node),
        (graph.edges, max_edges, lambda _: 16, _add_edge),
        (graph.unresolved, max_edges, lambda u: len(u[1].encode()) + 16, _add_unresolved),
        (
            graph.errors,
            max_nodes,
            lambda e: len(e[0].encode()) + len(e[1].encode()) + 16,
            _add_error,
        ),
    )
    chunk = graph_pb2.GraphChunk()
    size = 0
    for items, limit, weigh, add in sections:
        count = 0
        for item in items:
            cost = weigh(item)
            if count >= limit or (size and size + cost > max_bytes):
                yield chunk
                chunk, size, count = graph_pb2.GraphChunk(), 0, 0
            add(chunk, item)
            size += cost
            count += 1
    if size:
        yield chunk


def _add_node(chunk: graph_pb2.GraphChunk, node: graph_pb2.FileNode) -> None:
    chunk.nodes.append(node)


def _add_edge(chunk: graph_pb2.GraphChunk, edge: tuple[int, int, int]) -> None:
    chunk.edges.add(source=edge[0], target=edge[1], kind=edge[2])


def _add_unresolved(chunk: graph_pb2.GraphChunk, item: tuple[int, str]) -> None:
    chunk.unresolved.add(source=item[0], specifier=item[1])


def _add_error(chunk: graph_pb2.GraphChunk, item: tuple[str, str]) -> None:
    chunk.errors.add(path=item[0], error=item[1])
