"""`alexandria show REPO --out graph.html`: draw an ingested repository's dependency graph,
laid out by its embeddings, as one self-contained HTML page (data from the gateway)."""

from __future__ import annotations

import sys
from pathlib import Path

from alexandria import output
from alexandria.gateway_client import GatewayClient
from alexandria.gateway_commands import repo_argument
from alexandria.show_page import build_page
from services.common.config import Settings


def run_show(
    settings: Settings,
    repo: str,
    *,
    out: Path,
    gateway: str | None,
    color_by: str,
    as_json: bool = False,
) -> int:
    """Write the page; gateway errors (a refused URL, an unknown repository) propagate."""
    with GatewayClient(settings, gateway) as client:
        files = client.get("/api/v1/graph/files", repo_url=repo_argument(repo))
    try:
        out.write_text(build_page(files, color_by=color_by), encoding="utf-8")
    except OSError as exc:
        print(f"alexandria show: cannot write {out}: {exc}", file=sys.stderr)
        return output.FAILED
    edges = sum(len(f["imports"]) for f in files["files"])
    if as_json:
        output.print_json(
            {
                "out": str(out),
                "repo_url": files["repo_url"],
                "commit": files["commit"],
                "files": len(files["files"]),
                "imports": edges,
                "truncated": bool(files.get("truncated")),
            }
        )
        return output.OK
    print(f"wrote {out}: {len(files['files'])} files, {edges} imports of {files['repo_url']}")
    if files.get("truncated"):
        print("alexandria show: the repository has more files than the page shows", file=sys.stderr)
    return output.OK
