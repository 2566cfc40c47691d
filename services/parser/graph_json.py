"""The graph as plain JSON (`alexandria graph --json`): paths instead of node indices.

Works on anything shaped like a graph build (`RepoGraph`, or the client's
`ParsedGraph` reassembled from the gRPC stream), so both routes print the same
document. This module imports no tree-sitter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from google.protobuf.json_format import MessageToDict

from neo_alexandria.v1 import graph_pb2


class GraphLike(Protocol):
    """The fields a graph build and a received graph share."""

    nodes: list[graph_pb2.FileNode]
    edges: list[tuple[int, int, int]]
    cochanges: list[tuple[int, int, float, int, int]]
    unresolved: list[tuple[int, str]]
    errors: list[tuple[str, str]]
    stats: graph_pb2.GraphStats


def _enum_name(enum: Any, value: int, prefix: str) -> str:
    return str(enum.Name(value)).removeprefix(prefix).lower()


def graph_document(repo: str, commit: str, graph: GraphLike) -> dict[str, Any]:
    """`{"repo", "commit", "nodes", "edges", "cochanges", "unresolved", "errors", "stats"}`,
    with every path relative to the repository root, languages and edge kinds as
    lower-case names, each node's identifier `terms` strongest first, and co-change
    `last_changed` in unix seconds."""
    paths: Sequence[str] = [node.path for node in graph.nodes]
    return {
        "repo": repo,
        "commit": commit,
        "nodes": [
            {
                "path": node.path,
                "language": _enum_name(graph_pb2.Language, node.language, "LANGUAGE_"),
                "size_bytes": node.size_bytes,
                "terms": [{"token": term.token, "weight": term.weight} for term in node.terms],
            }
            for node in graph.nodes
        ],
        "edges": [
            {
                "source": paths[source],
                "target": paths[target],
                "kind": _enum_name(graph_pb2.EdgeKind, kind, "EDGE_KIND_"),
            }
            for source, target, kind in graph.edges
        ],
        "cochanges": [
            {
                "source": paths[source],
                "target": paths[target],
                "weight": weight,
                "commits": commits,
                "last_changed": last_changed,
            }
            for source, target, weight, commits, last_changed in graph.cochanges
        ],
        "unresolved": [
            {"source": paths[source], "specifier": specifier}
            for source, specifier in graph.unresolved
        ],
        "errors": [{"path": path, "error": error} for path, error in graph.errors],
        "stats": MessageToDict(
            graph.stats, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
        ),
    }
