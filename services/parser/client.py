"""Call ParserService and reassemble the streamed graph.

Imported by the coordinator, which may run inside the gateway process: this module
must not import tree-sitter (nor anything of the parser that does).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import grpc

from neo_alexandria.v1 import graph_pb2, parser_service_pb2, parser_service_pb2_grpc
from services.common import logs


class GraphStreamError(ValueError):
    """The stream broke its contract: an index to a node not yet sent, or no summary."""


@dataclass(slots=True)
class ParsedGraph:
    """A repository's graph as the parser sent it; indices refer to `nodes`.

    `cochanges` are `(source, target, weight, commits, last_changed)`: files changed
    together in recent commits, `last_changed` the newest such commit's time (unix
    seconds); `nodes[i].terms` are each file's weighted identifier tokens.
    """

    repo_url: str
    commit: str
    nodes: list[graph_pb2.FileNode] = field(default_factory=list)
    edges: list[tuple[int, int, int]] = field(default_factory=list)
    cochanges: list[tuple[int, int, float, int, int]] = field(default_factory=list)
    unresolved: list[tuple[int, str]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    stats: graph_pb2.GraphStats = field(default_factory=graph_pb2.GraphStats)
    unchanged: bool = False  # HEAD was `unless_commit`: nothing was parsed or sent


def _append_chunk(graph: ParsedGraph, chunk: graph_pb2.GraphChunk) -> None:
    graph.nodes.extend(chunk.nodes)
    count = len(graph.nodes)
    for edge in chunk.edges:
        if not (0 <= edge.source < count and 0 <= edge.target < count):
            raise GraphStreamError(f"edge {edge.source}->{edge.target} names an unsent node")
        graph.edges.append((edge.source, edge.target, edge.kind))
    for pair in chunk.cochanges:
        if not (0 <= pair.source < count and 0 <= pair.target < count):
            raise GraphStreamError(f"co-change {pair.source}-{pair.target} names an unsent node")
        graph.cochanges.append(
            (pair.source, pair.target, pair.weight, pair.commits, pair.last_changed.seconds)
        )
    for item in chunk.unresolved:
        if not 0 <= item.source < count:
            raise GraphStreamError(f"unresolved import of unsent node {item.source}")
        graph.unresolved.append((item.source, item.specifier))
    graph.errors.extend((error.path, error.error) for error in chunk.errors)


async def fetch_graph(
    channel: grpc.aio.Channel,
    repo_url: str,
    *,
    job_id: str = "",
    unless_commit: str = "",
    timeout: float,
    on_progress: Callable[[parser_service_pb2.ParseProgress], None] | None = None,
) -> ParsedGraph:
    """Parse `repo_url` remotely and return the whole graph; with `unless_commit`, an
    empty graph marked `unchanged` when the repository's HEAD is still that commit.

    gRPC failures propagate as `grpc.aio.AioRpcError` (INVALID_ARGUMENT for a bad URL,
    NOT_FOUND, FAILED_PRECONDITION, DEADLINE_EXCEEDED or, for a network failure that
    outlasted the clone retries, UNAVAILABLE).
    """
    stub = parser_service_pb2_grpc.ParserServiceStub(channel)
    request = parser_service_pb2.ParseRepositoryRequest(
        repo_url=repo_url, job_id=job_id, unless_commit=unless_commit
    )
    graph = ParsedGraph(repo_url=repo_url, commit="")
    summary: parser_service_pb2.ParseSummary | None = None
    call = stub.ParseRepository(request, timeout=timeout, metadata=logs.outgoing_metadata())
    async for response in call:
        event = response.WhichOneof("event")
        if event == "progress" and on_progress is not None:
            on_progress(response.progress)
        elif event == "chunk":
            _append_chunk(graph, response.chunk)
        elif event == "summary":
            summary = response.summary
    if summary is None:
        raise GraphStreamError("the parser's stream ended without a summary")
    graph.repo_url, graph.commit = summary.repo_url, summary.commit
    graph.stats.CopyFrom(summary.stats)
    graph.unchanged = summary.unchanged
    return graph
