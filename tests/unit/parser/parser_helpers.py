"""Helpers for the parser tests: source trees, git, graph views (imported by name)."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

from neo_alexandria.v1 import graph_pb2
from services.parser.graph import RepoGraph, build_graph

Files = Mapping[str, str | bytes]


def write_tree(root: Path, files: Files) -> Path:
    """Write `files` (relative path → text or bytes) under `root`."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def build(root: Path, files: Files) -> RepoGraph:
    """Write `files` under `root` and build their graph."""
    return build_graph(write_tree(root, files))


def import_edges(graph: RepoGraph) -> set[tuple[str, str]]:
    """Edges as (source path, target path), checking that every one is a plain import."""
    found = edge_paths(graph)
    assert {kind for _, _, kind in found} <= {graph_pb2.EDGE_KIND_IMPORT}
    return {(source, target) for source, target, _ in found}


def edge_paths(graph: RepoGraph) -> set[tuple[str, str, int]]:
    """Edges as (source path, target path, kind)."""
    paths = [node.path for node in graph.nodes]
    return {(paths[s], paths[t], k) for s, t, k in graph.edges}


def unresolved_paths(graph: RepoGraph) -> set[tuple[str, str]]:
    paths = [node.path for node in graph.nodes]
    return {(paths[s], spec) for s, spec in graph.unresolved}
