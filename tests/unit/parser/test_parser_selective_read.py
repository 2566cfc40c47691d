"""Only what the parse needs is read from git: a file the parse cache holds is never
read (local source) nor fetched (clone), files that are neither sources nor
configuration are never read, and the graph is the one a full read gives."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from parser_helpers import git

from services.common.config import Settings
from services.parser.cache import ParseCache
from services.parser.clone import CloneError, cloned_repository
from services.parser.graph import RepoGraph, build_graph
from services.parser.graph_json import graph_document
from services.parser.source import graph_of, head_graph

FILES: dict[str, str | bytes] = {
    "pkg/__init__.py": "",
    "pkg/a.py": "import pkg.b\nimport os\n",
    "pkg/b.py": "from pkg import c\n",
    "pkg/c.py": "X = 1\n",
    "big.py": "import pkg.a\n" + "x = 1\n" * 40,  # over the limit the tests set
    "app.ts": "import { x } from '@lib/util';\n",
    "lib/util.ts": "export const x = 1;\n",
    "package.json": json.dumps({"name": "app"}),
    "tsconfig.json": json.dumps({"extends": "./configs/base"}),
    # not a configuration file by name: read only because tsconfig.json names it
    "configs/base.json": json.dumps(
        {"compilerOptions": {"baseUrl": "..", "paths": {"@lib/*": ["lib/*"]}}}
    ),
    "README.md": "# never read\n",
    "logo.png": bytes(range(256)) * 8,
    "node_modules/dep/index.js": "module.exports = 1;\n",
}
SOURCES = ("pkg/__init__.py", "pkg/a.py", "pkg/b.py", "pkg/c.py", "app.ts", "lib/util.ts")
MAX_FILE_BYTES = 200
NO_TRANSPORT = ("git", "-c", "protocol.allow=never", "-c", "protocol.file.allow=never")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(alexandria_data_dir=tmp_path / "data")


def _view(graph: RepoGraph) -> dict[str, object]:
    """The graph as `--json` gives it, less timings and the cache count."""
    document = graph_document("r", "c", graph)
    stats = dict(document["stats"])
    del stats["parse_seconds"], stats["files_cached"]
    return {**document, "stats": stats}


def _loose_object(repo: Path, path: str) -> Path:
    blob = git(repo, "rev-parse", f"HEAD:{path}")
    loose = repo / ".git" / "objects" / blob[:2] / blob[2:]
    assert loose.is_file(), "the fixture's objects are loose"
    return loose


def _has_object(repository: Path, blob: str) -> bool:
    """Whether `repository` holds `blob` itself (no lazy fetch: no transport allowed)."""
    return (
        subprocess.run(
            [*NO_TRANSPORT, "cat-file", "-e", blob],
            cwd=repository,
            capture_output=True,
        ).returncode
        == 0
    )


def test_a_cached_file_is_never_read(make_repo: Callable[..., Path], settings: Settings) -> None:
    repo = make_repo(FILES)
    first = graph_of(str(repo), settings)
    assert first.graph.stats.files_cached == 0
    _loose_object(repo, "pkg/b.py").unlink()  # its blob cannot be read any more

    again = graph_of(str(repo), settings)
    assert again.graph.stats.files_cached == len(SOURCES) + 1  # big.py is under 1 MiB
    assert _view(again.graph) == _view(first.graph)
    with pytest.raises(CloneError, match="has no blob"):  # without the cache it is read
        graph_of(str(repo), settings, use_cache=False)


def test_files_neither_parsed_nor_configuration_are_never_read(
    make_repo: Callable[..., Path], settings: Settings, tmp_path: Path
) -> None:
    repo = make_repo(FILES)
    for unread in ("README.md", "logo.png", "node_modules/dep/index.js"):
        _loose_object(repo, unread).unlink()
    built = graph_of(str(repo), settings, use_cache=False)
    nodes = [node.path for node in built.graph.nodes]
    assert nodes == ["app.ts", "big.py", "lib/util.ts", *SOURCES[:4]]
    paths = [node.path for node in built.graph.nodes]
    edges = {(paths[s], paths[t]) for s, t, _ in built.graph.edges}
    assert ("app.ts", "lib/util.ts") in edges  # through the config tsconfig.json extends
    # the same graph as parsing a plain copy of the files from disk
    copy = tmp_path / "copy"
    shutil.copytree(repo, copy, ignore=shutil.ignore_patterns(".git"))
    (copy / "README.md").unlink()  # unreadable in the repository, so left out here too
    on_disk = graph_of(str(copy), settings, use_cache=False)
    for field in ("nodes", "edges", "unresolved", "errors"):
        assert _view(on_disk.graph)[field] == _view(built.graph)[field], field


def _build_from_clone(
    url: str, cache: ParseCache | None
) -> tuple[RepoGraph, set[str], set[str], list[str]]:
    """The graph built from a clone (what `repository_graph` does for a remote), with
    the paths whose blobs the clone then holds, the files written (the configuration
    files: the workers read sources from the objects), and the clone's top-level
    entries."""
    with cloned_repository(
        url, timeout_seconds=60, direct=False, read_all=False, history_commits=5
    ) as head:
        graph = head_graph(head, cache=cache, max_file_bytes=MAX_FILE_BYTES, workers=1)
        assert head.repository is not None
        held = {path for path, blob in head.blobs.items() if _has_object(head.repository, blob)}
        files = head.path.rglob("*")
        written = {str(p.relative_to(head.path)) for p in files if p.is_file()}
        top = sorted(p.name for p in head.repository.iterdir())
        top_git = sorted(p.name for p in (head.repository / ".git").iterdir())
    assert "index" not in top_git  # nothing was ever checked out
    return graph, held, {p for p in written if not p.startswith(".git/")}, top


def test_a_clone_fetches_only_the_files_the_cache_lacks(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    repo = make_repo(FILES)
    url = f"file://{repo}"
    cache = ParseCache(tmp_path / "cache.sqlite3")
    configs = {"package.json", "tsconfig.json", "configs/base.json"}

    _, held, written, _ = _build_from_clone(url, cache)
    assert held == {*SOURCES, "big.py", *configs}  # no README, image, vendored file
    assert written == configs  # the sources are parsed from the clone's objects

    (repo / "pkg" / "c.py").write_text("import pkg.a\n")
    git(repo, "commit", "-q", "-am", "change c")
    warm, held, written, top = _build_from_clone(url, cache)
    # big.py was never parsed (over the limit), so it is not cached: read to be sized
    assert held == {"pkg/c.py", "big.py", *configs}
    assert written == configs
    assert warm.stats.files_cached == len(SOURCES) - 1
    assert top == sorted({".git", *(path.split("/")[0] for path in written)})
    fresh, _, _, _ = _build_from_clone(url, None)
    assert _view(warm) == _view(fresh)
    assert dict(warm.errors)["big.py"].startswith(f"larger than {MAX_FILE_BYTES} bytes")
    with cloned_repository(url, timeout_seconds=60, history_commits=5) as local:
        read_directly = build_graph(
            local.path, max_file_bytes=MAX_FILE_BYTES, workers=1, history=local.history
        )
    assert _view(warm) == _view(read_directly)  # sizes of cached files included
