"""A repository's graph at HEAD: what the parser service and `alexandria graph` both build.

`repository_graph` takes a canonical URL: a remote is cloned without checkout, a local
git repository is read from its objects (`clone.py`), so the graph is of its HEAD
commit (uncommitted changes are not in it) and the parse cache applies. HEAD's tree is
walked as listed, and only the files the cache does not hold (plus the configuration
files the resolvers read) are read from git, or fetched. `graph_of` is the command line's
way in: it takes what a user types, validates a URL like the service does, reads a
local git repository (bare or not) at HEAD, and parses a local directory that is not a
git repository in place (no commit, no cache, no history).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from services.common.config import Settings
from services.common.repo_url import canonicalize, is_bare_repository
from services.parser.cache import PARSE_CACHE_FILE, ParseCache
from services.parser.clone import ClonedRepository, cloned_repository
from services.parser.graph import DEFAULT_COCHANGE_MAX_FILES, Progress, RepoGraph, build_graph
from services.parser.history import NOT_A_REPOSITORY
from services.parser.walk import DEFAULT_MAX_FILE_BYTES


@dataclass(frozen=True, slots=True)
class SourceGraph:
    """The graph of `repo` (canonical URL, or the directory's absolute path) at `commit`."""

    repo: str
    commit: str
    graph: RepoGraph


def repository_graph(
    url: str,
    settings: Settings,
    *,
    cache: ParseCache | None,
    workers: int | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    cancel: threading.Event | None = None,
    on_read: Callable[[], None] | None = None,
    on_progress: Progress | None = None,
) -> SourceGraph:
    """HEAD's graph of the canonical `url`, with its history, within the settings'
    limits; `on_read()` once HEAD's tree is listed, before the walk and the parse.

    Raises the clone's `CloneError` subclasses when git fails, a limit is passed or
    `cancel` is set; the temporary directory is gone when this returns.
    """
    with cloned_repository(
        url,
        timeout_seconds=settings.clone_timeout_seconds,
        cancel=cancel,
        max_bytes=settings.max_repo_bytes,
        max_files=settings.max_repo_files,
        history_commits=settings.history_max_commits,
        read_all=False,
    ) as repo:
        if on_read is not None:
            on_read()
        graph = head_graph(
            repo,
            cache=cache,
            max_file_bytes=max_file_bytes,
            workers=workers,
            on_progress=on_progress,
            cochange_max_files=settings.cochange_max_files,
        )
    return SourceGraph(url, repo.commit, graph)


def head_graph(
    head: ClonedRepository,
    *,
    cache: ParseCache | None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    workers: int | None = None,
    on_progress: Progress | None = None,
    cochange_max_files: int = DEFAULT_COCHANGE_MAX_FILES,
) -> RepoGraph:
    """The graph of a `cloned_repository` opened with `read_all=False`: its tree walked,
    the files the `cache` lacks parsed from its objects (`head.ready`), only the
    configuration files written (`head.read`), its history's co-change."""
    return build_graph(
        head.path,
        max_file_bytes=max_file_bytes,
        workers=workers,
        on_progress=on_progress,
        blobs=head.blobs,
        cache=cache,
        history=head.history,
        cochange_max_files=cochange_max_files,
        tree=head.tree,
        read=head.read,
        ready=head.ready,
        objects=head.objects,
    )


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
    repository = (path / ".git").exists() or is_bare_repository(path)
    if "://" not in source and path.is_dir() and not repository:
        root = path.resolve()
        graph = build_graph(
            root, workers=workers, on_progress=on_progress, history=NOT_A_REPOSITORY
        )
        return SourceGraph(str(root), "", graph)
    if "://" not in source and path.exists():
        source = str(path.resolve())
    url = canonicalize(source, allowed_hosts=settings.allowed_git_hosts, allow_local=True)
    cache = ParseCache(settings.data_dir / PARSE_CACHE_FILE) if use_cache else None
    return repository_graph(url, settings, cache=cache, workers=workers, on_progress=on_progress)
