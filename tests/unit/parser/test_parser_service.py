"""ParserService end to end in-process: a grpc.aio server on an ephemeral port."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from parser_helpers import git

from neo_alexandria.v1 import graph_pb2, parser_service_pb2, parser_service_pb2_grpc
from services.common.config import Settings
from services.parser import client as client_module
from services.parser import clone as clone_module
from services.parser import git_process
from services.parser import server as server_module
from services.parser.client import ParsedGraph, fetch_graph
from services.parser.clone import TEMP_PREFIX
from services.parser.graph import to_chunks
from services.parser.graph_json import graph_document
from services.parser.server import ParserServicer


def _parse(settings: Settings, repo_url: str, **kwargs: Any) -> ParsedGraph:
    async def run() -> ParsedGraph:
        server = grpc.aio.server()
        parser_service_pb2_grpc.add_ParserServiceServicer_to_server(
            ParserServicer(settings), server
        )
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                return await fetch_graph(channel, repo_url, **{"timeout": 30, **kwargs})
        finally:
            await server.stop(None)

    return asyncio.run(run())


def _status(settings: Settings, repo_url: str, **kwargs: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        _parse(settings, repo_url, **kwargs)
    return caught.value.code(), caught.value.details() or ""


@pytest.fixture
def local(tmp_path: Path) -> Settings:
    return Settings(mode="LOCAL", alexandria_data_dir=tmp_path / "data")


def _clones() -> set[Path]:
    """This process's clone directories: another process (a test run in another checkout)
    may make and remove its own at any time."""
    return set(Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}{os.getpid()}-*"))


def test_parses_a_local_repository_end_to_end(
    local: Settings, make_repo: Callable[..., Path]
) -> None:
    repo = make_repo(
        {
            "app/__init__.py": "",
            "app/main.py": "from app import util\nimport os\n",
            "app/util.py": "",
            "web/index.ts": "",
            "notes.txt": "",
        }
    )
    before = _clones()
    progress: list[parser_service_pb2.ParseProgress] = []
    graph = _parse(local, str(repo), job_id="job-1", on_progress=progress.append)
    assert graph.repo_url == f"file://{repo.resolve()}"
    assert graph.commit == git(repo, "rev-parse", "HEAD")
    paths = [n.path for n in graph.nodes]
    assert paths == ["app/__init__.py", "app/main.py", "app/util.py", "web/index.ts"]
    assert graph.edges == [
        (paths.index("app/main.py"), paths.index("app/util.py"), graph_pb2.EDGE_KIND_IMPORT)
    ]
    assert graph.unresolved == [(paths.index("app/main.py"), "os")]
    assert (graph.stats.files_seen, graph.stats.files_parsed, graph.stats.edges) == (5, 4, 1)
    assert [p.phase for p in progress][:2] == ["clone", "walk"]
    assert (progress[-1].phase, progress[-1].files_done, progress[-1].files_total) == (
        "parse",
        4,
        4,
    )
    assert _clones() <= before  # P14


def test_a_graph_of_many_chunks_reassembles_exactly(
    local: Settings, make_repo: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        f"m{i}.py": f"import m{(i + 1) % 40}\nimport m{(i + 3) % 40}\nimport ext{i}\n"
        for i in range(40)
    }
    repo = make_repo(files)
    received: list[graph_pb2.GraphChunk] = []

    def spy(graph: ParsedGraph, chunk: graph_pb2.GraphChunk) -> None:
        received.append(graph_pb2.GraphChunk.FromString(chunk.SerializeToString()))
        append_chunk(graph, chunk)

    append_chunk = client_module._append_chunk
    monkeypatch.setattr(client_module, "_append_chunk", spy)
    whole = _parse(local, str(repo))
    assert len(received) == 1  # the default limits send this graph in one chunk
    received.clear()
    monkeypatch.setattr(
        server_module, "to_chunks", functools.partial(to_chunks, max_nodes=7, max_edges=5)
    )
    chunked = _parse(local, str(repo))
    # What crossed the wire: many chunks, each within the limits, which together carry
    # the graph once, with edges naming nodes that came in earlier chunks.
    assert [len(c.nodes) for c in received if c.nodes] == [7, 7, 7, 7, 7, 5]
    assert max(len(c.edges) for c in received) == 5 and sum(len(c.edges) for c in received) == 80
    assert max(len(c.unresolved) for c in received) == 5
    assert sum(len(c.unresolved) for c in received) == 40
    assert len(received) >= (80 + 40) // 5
    sent_before, from_earlier_chunks = 0, 0
    for chunk in received:
        from_earlier_chunks += sum(min(e.source, e.target) < sent_before for e in chunk.edges)
        sent_before += len(chunk.nodes)
    assert from_earlier_chunks > 0
    assert len(chunked.nodes) == 40 and len(chunked.edges) == 80 and len(chunked.unresolved) == 40
    assert (chunked.nodes, chunked.edges, chunked.unresolved) == (
        whole.nodes,
        whole.edges,
        whole.unresolved,
    )


@pytest.mark.parametrize(
    "url",
    [
        "",
        "ext::sh -c id",
        "https://evil.example.com/u/r",
        "-uhttps://github.com/u/r",
        "git@github.com:u/r",
    ],
)
def test_invalid_urls_are_invalid_argument(local: Settings, url: str) -> None:
    assert _status(local, url)[0] == grpc.StatusCode.INVALID_ARGUMENT


def test_local_paths_are_refused_outside_local_mode(make_repo: Callable[..., Path]) -> None:
    repo = make_repo({"a.py": ""})
    edge = Settings(mode="EDGE", redis_url="redis://127.0.0.1:6379/0")
    assert _status(edge, str(repo))[0] == grpc.StatusCode.INVALID_ARGUMENT


def test_clone_failures_map_to_status_codes(local: Settings, tmp_path: Path) -> None:
    not_a_repo = tmp_path / "fake"
    (not_a_repo / ".git").mkdir(parents=True)
    code, details = _status(local, str(not_a_repo))
    assert code == grpc.StatusCode.NOT_FOUND
    assert "does not appear to be a git repository" in details

    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    code, details = _status(local, str(empty))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert "no HEAD commit" in details


def test_a_network_failure_that_outlasts_the_retries_is_unavailable(
    local: Settings, make_repo: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """UNAVAILABLE, not FAILED_PRECONDITION: the coordinator queues the job again later."""

    def unreachable(command: list[str], **kwargs: object) -> tuple[int, bytes]:
        return 128, b"fatal: unable to access: Could not resolve host: github.com\n"

    monkeypatch.setattr(git_process, "run", unreachable)
    monkeypatch.setattr(clone_module, "RETRY_BACKOFF_SECONDS", 0.0)
    monkeypatch.setattr(clone_module, "is_local", lambda url: False)  # cloned, as a remote
    code, details = _status(local, str(make_repo({"a.py": ""})))
    assert code == grpc.StatusCode.UNAVAILABLE and "Could not resolve host" in details


def test_a_job_abandoned_by_its_client_removes_its_clone(
    local: Settings, make_repo: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo({"a.py": ""})
    monkeypatch.setattr(clone_module, "_git_command", lambda url, dest, *_: ["sleep", "30"])
    monkeypatch.setattr(clone_module, "is_local", lambda url: False)  # cloned, as a remote
    before = _clones()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        _parse(local, str(repo), timeout=1)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    deadline = time.monotonic() + 5
    while _clones() - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _clones() <= before


def test_client_module_does_not_import_tree_sitter() -> None:
    code = (
        "import sys, services.parser.client; "
        "sys.exit(any(m.startswith('tree_sitter') for m in sys.modules))"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[3])


def test_the_service_and_the_cli_give_the_same_graph(
    local: Settings, make_repo: Callable[..., Path]
) -> None:
    repo = make_repo(
        {
            "pkg/__init__.py": "from pkg import core\n",
            "pkg/core.py": "import json\nfrom . import missing\n",
            "bin.py": b"\x00binary",
        }
    )
    streamed = _parse(local, str(repo))
    printed = subprocess.run(
        [sys.executable, "-m", "alexandria.cli", "graph", str(repo), "--json", "--no-cache"],
        env={**os.environ, "ALEXANDRIA_DATA_DIR": str(local.data_dir)},
        check=True,
        capture_output=True,
        text=True,
    )
    from_cli = json.loads(printed.stdout)
    from_service = graph_document(streamed.repo_url, streamed.commit, streamed)
    for document in (from_cli, from_service):
        del document["stats"]["parse_seconds"]
    assert from_cli == from_service
    assert from_cli["errors"] == [
        {"path": "bin.py", "error": "binary file (NUL byte in the first 8 KiB)"}
    ]


def test_a_repository_still_at_the_known_commit_is_not_parsed(
    local: Settings, make_repo: Callable[..., Path]
) -> None:
    repo = make_repo({"app/__init__.py": "", "app/main.py": "from app import util\n"})
    head = git(repo, "rev-parse", "HEAD")
    progress: list[parser_service_pb2.ParseProgress] = []
    graph = _parse(local, str(repo), unless_commit=head, on_progress=progress.append)
    assert graph.unchanged and graph.commit == head
    assert graph.repo_url == f"file://{repo.resolve()}"
    assert (graph.nodes, graph.edges, progress) == ([], [], [])  # no clone, no parse

    (repo / "app/util.py").write_text("")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "util")
    moved = _parse(local, str(repo), unless_commit=head)
    assert not moved.unchanged and moved.commit == git(repo, "rev-parse", "HEAD")
    assert sorted(n.path for n in moved.nodes) == ["app/__init__.py", "app/main.py", "app/util.py"]


def test_an_unreadable_head_is_parsed_and_fails_as_a_parse_would(
    local: Settings, tmp_path: Path
) -> None:
    not_a_repo = tmp_path / "fake"
    (not_a_repo / ".git").mkdir(parents=True)
    code, details = _status(local, str(not_a_repo), unless_commit="a" * 40)
    assert code == grpc.StatusCode.NOT_FOUND and "not appear to be a git repository" in details
