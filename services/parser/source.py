"""Build the graph of a repository named on the command line, in this process.

A URL is validated and cloned like the service does; a local git repository is
cloned from `file://` too, so the graph is of its HEAD commit (uncommitted changes
are not in it) and the parse cache applies; a local directory that is not a git
repository is parsed in place (no commit, no cache, no history).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.common.config import Settings
from services.common.repo_url import canonicalize
from services.parser.cache import PARSE_CACHE_FILE, ParseCache
from services.parser.clone import cloned_repository
from services.parser.graph import Progress, RepoGraph, build_graph
from services.parser.history import NOT_A_REPOSITORY


@dataclass(frozen=True, slots=True)
class SourceGraph:
    """The graph of `repo` (canonical URL, or the directory's absolute path) at `commit`."""

    repo: str
    commit: str
    graph: RepoGraph


def graph_of(
    source: str,
    settings: Settings,
    *,
    use_cache: bool = True,
    workers: int | None = None,
    on_progress: Progress | None = None,
) -> SourceGraph:
    """Clone (or open) `source` and build its graph.

    Raises `InvalidRepoUrl` for a URL that is malformed or not allowed, and the
    clone's `CloneError` subclasses when git fails or a limit is passed.
    """
    path = Path(source)
    if "://" not in source and path.is_dir() and not (path / ".git").exists():
        root = path.resolve()
        graph = build_graph(
            root, workers=workers, on_progress=on_progress, history=NOT_A_REPOSITORY
        )
        return SourceGraph(str(root), "", graph)
    if "://" not in source and path.exists():
        source = str(path.resolve())
    url = canonicalize(source, allowed_hosts=settings.allowed_git_hosts, allow_local=True)
    cache = ParseCache(settings.data_dir / PARSE_CACHE_FILE) if use_cache else None
    with cloned_repository(
        url,
        timeout_seconds=settings.clone_timeout_seconds,
        max_bytes=settings.max_repo_bytes,
        max_files=settings.max_repo_files,
        history_commits=settings.history_max_commits,
    ) as repo:
        graph = build_graph(
            repo.path,
            workers=workers,
            on_progress=on_progress,
            blobs=repo.blobs,
            cache=cache,
            history=repo.history,
            cochange_max_files=settings.cochange_max_files,
        )
    return SourceGraph(url, repo.commit, graph)
