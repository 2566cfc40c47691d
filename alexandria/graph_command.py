"""`alexandria graph SOURCE [--json]`: one repository's dependency graph, no services needed."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from alexandria.head_changes import say_changes_not_indexed
from services.common.config import Settings
from services.common.repo_url import InvalidRepoUrl


def _progress(done: int, total: int) -> None:
    print(f"\r  parsed {done}/{total} files", end="", file=sys.stderr, flush=True)


def run_graph(
    settings: Settings, source: str, *, as_json: bool, use_cache: bool, workers: int | None
) -> int:
    """Print the graph of `source` (URL, local repository or directory); 0 on success."""
    from services.parser.clone import CloneError
    from services.parser.graph_json import graph_document
    from services.parser.source import graph_of

    if not as_json and (Path(source) / ".git").exists():
        say_changes_not_indexed(source)
    try:
        built = graph_of(
            source,
            settings,
            use_cache=use_cache,
            workers=workers,
            on_progress=_progress if sys.stderr.isatty() else None,
        )
    except InvalidRepoUrl as exc:
        print(f"alexandria graph: {exc}", file=sys.stderr)
        return 2
    except CloneError as exc:
        print(f"alexandria graph: {exc}", file=sys.stderr)
        return 1
    finally:
        if sys.stderr.isatty():
            print(file=sys.stderr)
    document = graph_document(built.repo, built.commit, built.graph)
    if as_json:
        # dumps, not dump: dump encodes in Python, piece by piece (0.9 s of torch's graph)
        sys.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")
    else:
        _print_summary(document)
    return 0


def _print_summary(document: dict[str, object]) -> None:
    stats = document["stats"]
    assert isinstance(stats, dict)
    nodes = document["nodes"]
    assert isinstance(nodes, list)
    languages = Counter(node["language"] for node in nodes)
    commit = str(document["commit"])[:12] or "(working tree)"
    print(f"{document['repo']} @ {commit}")
    print("  files: " + ", ".join(f"{n} {lang}" for lang, n in languages.most_common()))
    print(
        f"  {stats['edges']} edges, {stats['unresolved']} unresolved imports, "
        f"{stats['files_skipped']} files skipped, {stats['files_cached']} from the parse cache, "
        f"{float(stats['parse_seconds']):.2f} s"
    )
    print("  (use --json for the whole graph)")
