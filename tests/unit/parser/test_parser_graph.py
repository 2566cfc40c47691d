"""Graph building (errors, parallel parse) and chunking."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from parser_helpers import edge_paths, write_tree

from neo_alexandria.v1 import graph_pb2
from services.common.config import Settings
from services.parser import workers as workers_module
from services.parser.client import ParsedGraph, _append_chunk
from services.parser.graph import RepoGraph, build_graph, to_chunks
from services.parser.records import Extraction
from services.parser.source import graph_of


def test_a_syntax_error_is_recorded_and_the_rest_continue(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {"bad.py": "import good\ndef f(:\n", "good.py": "import helper\n", "helper.py": ""},
    )
    graph = build_graph(tmp_path)
    assert [n.path for n in graph.nodes] == ["bad.py", "good.py", "helper.py"]
    assert {p for p, _ in graph.errors} == {"bad.py"}
    assert edge_paths(graph) == {
        ("bad.py", "good.py", graph_pb2.EDGE_KIND_IMPORT),
        ("good.py", "helper.py", graph_pb2.EDGE_KIND_IMPORT),
    }


def test_an_unreadable_file_is_recorded_and_the_rest_continue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tree(tmp_path, {"a.py": "import b\n", "b.py": ""})

    def failing_read(path: str, limit: int) -> bytes:
        if path.endswith("b.py"):
            raise PermissionError(13, "Permission denied")
        return Path(path).read_bytes()

    monkeypatch.setattr(workers_module, "read_regular_file", failing_read)
    monkeypatch.setattr(workers_module, "_mark", lambda index: None)
    outcomes = workers_module._extract_chunk(
        str(tmp_path), [(0, "a.py", 1, ""), (1, "b.py", 1, "")], 100
    )
    assert outcomes[1] == (1, "unreadable: Permission denied")
    assert isinstance(outcomes[0][1], Extraction)


@pytest.mark.parametrize("committed", [False, True], ids=["directory", "git-objects"])
def test_a_file_that_kills_its_worker_is_recorded_and_the_rest_continue(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_repo: Callable[..., Path],
    committed: bool,
) -> None:
    """`List<` repeated makes tree-sitter's Java parser allocate gigabytes; with workers
    capped at 256 MiB the worker running it dies, and only that file is lost, whether
    the workers read the files from a directory or from a repository's objects (their
    blob readers then start again in the fresh pool)."""
    files = {f"pkg/m{i}.py": f"import pkg.m{i + 1}\n" for i in range(40)}
    files["Bomb.java"] = "List<" * 20_000
    monkeypatch.setattr(workers_module, "WORKER_MEMORY_BYTES", 256 << 20)
    if committed:
        settings = Settings(alexandria_data_dir=tmp_path / "data")
        graph = graph_of(str(make_repo(files)), settings, use_cache=False, workers=2).graph
    else:
        write_tree(tmp_path, files)
        graph = build_graph(tmp_path, workers=2)
    assert len(graph.nodes) == 40 and len(graph.edges) == 39
    assert graph.errors == [("Bomb.java", workers_module.WORKER_DIED)]


def test_two_workers_build_what_one_builds(tmp_path: Path) -> None:
    files = {f"pkg/m{i}.py": f"from pkg import m{(i + 1) % 250}\nimport os\n" for i in range(250)}
    files["pkg/__init__.py"] = ""
    files["pkg/bad.py"] = "def (:\n"
    write_tree(tmp_path, files)
    progress: list[tuple[int, int]] = []
    parallel = build_graph(tmp_path, workers=2, on_progress=lambda d, t: progress.append((d, t)))
    serial = build_graph(tmp_path, workers=1)
    assert [n.path for n in parallel.nodes] == [n.path for n in serial.nodes]
    assert parallel.edges == serial.edges
    assert parallel.unresolved == serial.unresolved
    assert parallel.errors == serial.errors
    assert len(parallel.edges) == 250
    assert progress[-1] == (252, 252)
    assert len(progress) < 252  # reported per chunk, not per file


def test_progress_callback_can_abort_the_build(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a.py": "", "b.py": ""})

    def stop(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_graph(tmp_path, on_progress=stop)


def _big_graph(nodes: int, edges: int) -> RepoGraph:
    graph = RepoGraph()
    for i in range(nodes):
        graph.nodes.append(graph_pb2.FileNode(path=f"dir/{i:06d}.py", language=1, size_bytes=i))
    graph.edges = [(i % nodes, (i * 7 + 1) % nodes, 1 + i % 5) for i in range(edges)]
    graph.unresolved = [(i % nodes, f"mod{i}") for i in range(edges // 2)]
    graph.errors = [(f"e{i}.py", "binary file") for i in range(nodes // 3)]
    return graph


def test_chunks_reassemble_exactly_and_stay_small() -> None:
    graph = _big_graph(5000, 45000)
    chunks = list(to_chunks(graph, max_nodes=2000, max_edges=20000))
    assert len(chunks) > 3
    assert all(c.ByteSize() < 4 * 1024 * 1024 for c in chunks)
    assert all(len(c.nodes) <= 2000 and len(c.edges) <= 20000 for c in chunks)
    rebuilt = ParsedGraph(repo_url="", commit="")
    for chunk in chunks:
        _append_chunk(rebuilt, chunk)
    assert rebuilt.nodes == graph.nodes
    assert rebuilt.edges == graph.edges
    assert rebuilt.unresolved == graph.unresolved
    assert rebuilt.errors == graph.errors


def test_chunks_respect_the_byte_budget() -> None:
    graph = RepoGraph(nodes=[graph_pb2.FileNode(path="p" * 4000 + str(i)) for i in range(1000)])
    chunks = list(to_chunks(graph, max_bytes=1 << 20))
    assert len(chunks) == 4
    assert max(c.ByteSize() for c in chunks) < 1.1 * (1 << 20)


def test_empty_graph_has_no_chunks() -> None:
    assert list(to_chunks(RepoGraph())) == []
