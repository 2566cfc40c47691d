"""The page `alexandria show` writes: a repository's files laid out by a 2-D projection
of their embeddings, its imports as edges, and all of it embedded as JSON in one
self-contained HTML file (no network; colours, hover, and nearest files with their
reasons in the page)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

import numpy as np

from alexandria import output

COLOR_BY = ("directory", "language")
TEMPLATE = "templates/graph.html"
PLACEHOLDER = "__GRAPH_DATA__"


def project_2d(vectors: Sequence[Sequence[float]]) -> np.ndarray:
    """The vectors' first two principal components, scaled into [-1, 1]: shape (n, 2).

    Each axis's sign is fixed (its largest loading positive), so a layout is reproducible.
    """
    coords = np.zeros((len(vectors), 2))
    if len(vectors) < 2:
        return coords
    centred = np.array(vectors, dtype=np.float64)
    centred -= centred.mean(axis=0)
    axes = np.linalg.svd(centred, full_matrices=False)[2][:2]
    axes *= np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)])[:, None]
    coords[:, : len(axes)] = centred @ axes.T
    scale = np.abs(coords).max()
    return coords / scale if scale > 0 else coords


def page_data(files_response: Mapping[str, Any], *, color_by: str) -> dict[str, Any]:
    """What the page draws, from the gateway's `GET /api/v1/graph/files` answer.

    A file's identifier `terms` and co-change partners (`cochange`) go in too when the
    answer carries them (the page names shared identifiers and commits together); an
    answer without them gives a page whose reasons are structure, imports and directory.
    """
    files = files_response["files"]
    index = {f["file_path"]: i for i, f in enumerate(files)}
    coords = project_2d([f["vector"] for f in files])
    nodes = []
    for f, (x, y) in zip(files, coords, strict=True):
        node: dict[str, Any] = {
            "path": f["file_path"],
            "language": f["language"],
            "x": round(float(x), 5),
            "y": round(float(y), 5),
            "vector": [round(float(v), 5) for v in f["vector"]],
        }
        if "terms" in f:
            node["terms"] = [_token(t) for t in f["terms"] or ()]
        if "cochange" in f:
            node["cochange"] = [
                [
                    index[p["file_path"]],
                    int(p.get("commits") or 0),
                    output.utc_day(p.get("last_changed")),
                ]
                for p in f["cochange"] or ()
                if p["file_path"] in index and p["file_path"] != f["file_path"]
            ]
        nodes.append(node)
    return {
        "repo_url": files_response["repo_url"],
        "commit": files_response.get("commit", ""),
        "truncated": bool(files_response.get("truncated", False)),
        "color_by": color_by,
        "signals": {
            "identifiers": any("terms" in f for f in files),
            "history": any("cochange" in f for f in files),
        },
        "nodes": nodes,
        "edges": [
            [i, index[target]]
            for i, f in enumerate(files)
            for target in f["imports"]
            if target in index and index[target] != i
        ],
    }


def _token(term: str | Mapping[str, Any]) -> str:
    """A term as the token alone: the answer may give tokens or {token, weight}."""
    return str(term["token"]) if isinstance(term, Mapping) else str(term)


def build_page(files_response: Mapping[str, Any], *, color_by: str = "directory") -> str:
    """The whole HTML page, data embedded as JSON that cannot end its <script> early."""
    if color_by not in COLOR_BY:
        raise ValueError(f"color_by must be one of {COLOR_BY}, not {color_by!r}")
    template = resources.files("alexandria").joinpath(TEMPLATE).read_text(encoding="utf-8")
    data = json.dumps(page_data(files_response, color_by=color_by), separators=(",", ":"))
    # "<" only occurs inside JSON strings, where \u003c means the same: no "</script>".
    return template.replace(PLACEHOLDER, data.replace("<", "\\u003c"), 1)
