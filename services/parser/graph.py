"""Build a repository's file dependency graph, in parallel, and cut it into messages.

The walk and the resolution run in this process; reading and parsing files (the
expensive part, and the dangerous one) runs in worker processes (`workers.py`).
Files whose content was parsed before come from the parse cache (`cache.py`). Given
HEAD's git tree and a way to read its files (`clone.py`), the walk lists the tree and
only the files the cache does not hold are read (by the workers, from the objects),
and only the configuration files the resolvers read are written out: a cached file
is never read at all.
A file that cannot be read or parsed is recorded in `errors` and the rest go on.
Each node carries its strongest identifier tokens, weighted over the repository
(`identifiers.py`), and the clone's recent commits give co-change pairs (`history.py`).
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from neo_alexandria.v1 import graph_pb2
from services.parser.blob_reader import GitObjects
from services.parser.cache import ParseCache, fingerprint
from services.parser.history import CoChangePair, History, cochanges
from services.parser.identifiers import Terms, weigh_terms
from services.parser.plugins import PLUGINS, Resolver
from services.parser.records import Extraction, RepoIndex
from services.parser.walk import (
    DEFAULT_MAX_FILE_BYTES,
    SourceFile,
    Tree,
    WalkResult,
    oversized,
    walk_sources,
)
from services.parser.workers import Outcome, extract_files

Progress = Callable[[int, int], None]
Read = Callable[[Iterable[str]], Mapping[str, int]]
"""Writes the named repository files under the root and gives their sizes
(`ClonedRepository.read`)."""
DEFAULT_COCHANGE_MAX_FILES = 15
NO_HISTORY = History(note="no history: none was read")


@dataclass(slots=True)
class RepoGraph:
    """Nodes in walk order; edges `(source, target, EdgeKind)`, co-change pairs
    `(source, target, weight, commits, last_changed)` and unresolved by node index."""

    nodes: list[graph_pb2.FileNode] = field(default_factory=list)
    edges: list[tuple[int, int, int]] = field(default_factory=list)
    cochanges: list[CoChangePair] = field(default_factory=list)
    unresolved: list[tuple[int, str]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    stats: graph_pb2.GraphStats = field(default_factory=graph_pb2.GraphStats)


def _cpu_count() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _resolvers_in_order() -> list[Resolver]:
    """Each distinct resolve function once, in language order (deterministic output)."""
    ordered: list[Resolver] = []
    for _, plugin in sorted(PLUGINS.items()):
        if plugin.resolve not in ordered:
            ordered.append(plugin.resolve)
    return ordered


def _cache_key(source: SourceFile, blobs: Mapping[str, str]) -> str | None:
    """Extractor, extension (it picks the grammar, and `.pyi` means a stub) and content."""
    blob = blobs.get(source.path)
    if blob is None:
        return None
    extension = source.path.rpartition(".")[2].lower()
    return f"{fingerprint(PLUGINS[source.language].extract.__module__)}:{extension}:{blob}"


def _cached(
    files: Sequence[SourceFile], blobs: Mapping[str, str], cache: ParseCache | None
) -> tuple[dict[str, Extraction], dict[str, str]]:
    """The cached extractions of `files` by path (one query, each value loaded once),
    and every file's cache key. An entry is used only when the file's size is known,
    from the listing or from the entry."""
    if cache is None:
        return {}, {}
    keys = {f.path: key for f in files if (key := _cache_key(f, blobs))}
    hits = cache.get_many(keys.values())
    sized = {f.path for f in files if f.size is not None}
    return {
        path: hits[key]
        for path, key in keys.items()
        if key in hits and (path in sized or hits[key].size is not None)
    }, keys


def _settle_sizes(walked: WalkResult, known: Mapping[str, int], max_file_bytes: int) -> None:
    """Size the walked files the listing could not (a partial clone's) from `known`
    (their cache entries, or their blobs once read), skipping those over
    `max_file_bytes` as the walk would have."""
    settled: list[SourceFile] = []
    for source in walked.files:
        if source.size is None:
            size = known.get(source.path, 0)
            reason = oversized(size, max_file_bytes)
            if reason is not None:
                walked.skipped.append((source.path, reason))
                continue
            source = SourceFile(source.path, source.language, size)
        settled.append(source)
    walked.files = settled


def _parse_all(
    source: Path | GitObjects,
    files: Sequence[SourceFile],
    blobs: Mapping[str, str],
    cached: Mapping[str, Extraction],
    *,
    max_file_bytes: int,
    workers: int,
    on_progress: Progress | None,
) -> dict[str, Outcome]:
    """Each file's outcome by path: `cached`, else parsed in the workers, which read it
    from the directory `source` or, by its blob id, from `source`'s objects."""
    outcomes: dict[str, Outcome] = {f.path: cached[f.path] for f in files if f.path in cached}
    # Largest first, so that the last chunks are small and no worker idles long at the end.
    to_parse = sorted((f for f in files if f.path not in outcomes), key=lambda f: -(f.size or 0))
    work = [(f.path, f.language, blobs.get(f.path, "")) for f in to_parse]
    done = len(outcomes)

    def advance(count: int) -> None:
        nonlocal done
        done += count
        if on_progress is not None:
            on_progress(done, len(files))

    if outcomes:
        advance(0)  # report the cache hits
    parsed = extract_files(
        source, work, max_file_bytes=max_file_bytes, workers=workers, advance=advance
    )
    outcomes.update(zip((path for path, _, _ in work), parsed, strict=True))
    return outcomes


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off in the block, back on after it if it was on.

    A build allocates hundreds of thousands of objects that live on and hold no cycles
    (the cached records, the terms, the nodes): each full collection they set off
    walks all of them and frees nothing. Over torch's 2,230 cached files that was
    0.08 s of 0.18 s for reading the cache, and 0.1 s of a warm `alexandria graph`
    (benchmarks/README.md). Reference counting still frees everything as before."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@_collector_paused()
def build_graph(
    root: Path,
    *,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    workers: int | None = None,
    on_progress: Progress | None = None,
    blobs: Mapping[str, str] | None = None,
    cache: ParseCache | None = None,
    history: History = NO_HISTORY,
    cochange_max_files: int = DEFAULT_COCHANGE_MAX_FILES,
    tree: Tree | None = None,
    read: Read | None = None,
    ready: Read | None = None,
    objects: GitObjects | None = None,
) -> RepoGraph:
    """Walk, parse and resolve the repository at `root`.

    `on_progress(files_done, files_total)` is called from this thread as files are
    parsed; an exception it raises aborts the build (that is how a job is cancelled).
    With a `cache` and the checkout's `blobs` (path → git blob id), files whose
    content was parsed before are not parsed again. The clone's `history` gives the
    co-change pairs (commits touching more than `cochange_max_files` nodes are ignored).
    With HEAD's `tree` the walk lists it instead of `root`, and with `read` the files
    are written under `root` only as they are needed: the files to parse and the
    configuration files in one batch, any other file a configuration names when a
    resolver reads it. With `ready` and `objects` too, the files to parse are not
    written: `ready` makes their blobs readable and the workers read them from `objects`.
    """
    started = time.perf_counter()
    walked = walk_sources(tree if tree is not None else root, max_file_bytes=max_file_bytes)
    sources = [f for f in walked.files if f.language in PLUGINS]
    cached, keys = _cached(sources, blobs or {}, cache)
    known = {path: extraction.size or 0 for path, extraction in cached.items()}
    from_objects = objects if read is not None and ready is not None else None
    if read is not None:  # the selection: nothing the cache holds is read
        unread = [f.path for f in sources if f.path not in cached]
        if ready is not None and from_objects is not None:
            known.update(ready(unread))
            known.update(read(walked.manifests))
        else:
            known.update(read([*unread, *walked.manifests]))
    _settle_sizes(walked, known, max_file_bytes)
    sources = [f for f in walked.files if f.language in PLUGINS]
    outcomes = _parse_all(
        from_objects or root,
        sources,
        blobs or {},
        cached,
        max_file_bytes=max_file_bytes,
        workers=workers or _cpu_count(),
        on_progress=on_progress,
    )
    if cache is not None:
        cache.put_many(
            {
                keys[f.path]: replace(outcome, size=f.size)
                for f in sources
                if f.path in keys
                and f.path not in cached
                and isinstance(outcome := outcomes[f.path], Extraction)
            }
        )
    graph = RepoGraph(errors=list(walked.skipped))
    facts: dict[Resolver, dict[int, Any]] = {}
    counted: list[Terms] = []
    for source in walked.files:
        outcome = outcomes.get(source.path, Extraction())
        if isinstance(outcome, str):
            graph.errors.append((source.path, outcome))
            continue
        index = len(graph.nodes)
        graph.nodes.append(
            graph_pb2.FileNode(path=source.path, language=source.language, size_bytes=source.size)
        )
        counted.append(outcome.terms)
        if outcome.error:
            graph.errors.append((source.path, outcome.error))
        if outcome.facts is not None:
            facts.setdefault(PLUGINS[source.language].resolve, {})[index] = outcome.facts
    for node, terms in zip(graph.nodes, weigh_terms(counted), strict=True):
        node.terms.extend(graph_pb2.IdentifierTerm(token=t, weight=w) for t, w in terms)
    repo = RepoIndex([node.path for node in graph.nodes], walked.manifests, root, read)
    for resolve in _resolvers_in_order():
        if resolve in facts:
            resolution = resolve(repo, facts[resolve])
            graph.edges.extend(resolution.edges)
            graph.unresolved.extend(resolution.unresolved)
    graph.errors.sort()
    graph.cochanges = cochanges(history, repo.paths, max_files=cochange_max_files)
    graph.stats.CopyFrom(
        graph_pb2.GraphStats(
            files_seen=walked.seen,
            files_parsed=len(graph.nodes),
            files_skipped=walked.seen - len(graph.nodes),
            edges=len(graph.edges),
            unresolved=len(graph.unresolved),
            parse_seconds=time.perf_counter() - started,
            files_cached=len(cached),
            history_commits=len(history.commits),
            history_note=history.note,
        )
    )
    return graph


def to_chunks(
    graph: RepoGraph, *, max_nodes: int = 2000, max_edges: int = 20000, max_bytes: int = 1 << 20
) -> Iterator[graph_pb2.GraphChunk]:
    """The graph as GraphChunk messages, each far below gRPC's 4 MB default.

    All nodes are sent first, then edges, co-change pairs, unresolved imports and
    errors, so every index in a chunk refers to a node of this or an earlier chunk.
    Per chunk: at most `max_nodes` nodes (and errors), `max_edges` edges (and co-change
    pairs, and unresolved imports), and about `max_bytes` of payload. An empty graph
    yields no chunk.
    """
    sections: tuple[tuple[Sequence[Any], int, Callable[[Any], int], Callable[..., None]], ...] = (
        (graph.nodes, max_nodes, _node_bytes, _add_node),
        (graph.edges, max_edges, lambda _: 16, _add_edge),
        (graph.cochanges, max_edges, lambda _: 48, _add_cochange),
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


def _node_bytes(node: graph_pb2.FileNode) -> int:
    return len(node.path.encode()) + 16 + sum(len(term.token.encode()) + 12 for term in node.terms)


def _add_node(chunk: graph_pb2.GraphChunk, node: graph_pb2.FileNode) -> None:
    chunk.nodes.append(node)


def _add_edge(chunk: graph_pb2.GraphChunk, edge: tuple[int, int, int]) -> None:
    chunk.edges.add(source=edge[0], target=edge[1], kind=edge[2])


def _add_cochange(chunk: graph_pb2.GraphChunk, pair: CoChangePair) -> None:
    source, target, weight, commits, last_changed = pair
    added = chunk.cochanges.add(source=source, target=target, weight=weight, commits=commits)
    added.last_changed.seconds = last_changed


def _add_unresolved(chunk: graph_pb2.GraphChunk, item: tuple[int, str]) -> None:
    chunk.unresolved.add(source=item[0], specifier=item[1])


def _add_error(chunk: graph_pb2.GraphChunk, item: tuple[str, str]) -> None:
    chunk.errors.add(path=item[0], error=item[1])
