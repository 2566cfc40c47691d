"""The parse workers stay warm between jobs: the second repository is parsed by the
processes that parsed the first, a pool whose worker died is replaced, and an idle pool
is shut down."""

from __future__ import annotations

import subprocess
import sys
import time
from multiprocessing import forkserver
from pathlib import Path

import pytest

from neo_alexandria.v1 import graph_pb2
from services.parser import workers
from services.parser.records import Extraction

PYTHON = graph_pb2.LANGUAGE_PYTHON
pytestmark = pytest.mark.skipif(
    not Path("/proc").exists(), reason="reads the worker processes from /proc"
)


def _workers_running() -> set[int]:
    """The parse workers: the forkserver's children."""
    return _children(forkserver._forkserver._forkserver_pid)  # type: ignore[attr-defined]


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if entry.name.isdigit() and int(stat[1]) == pid and stat[0] != "Z":
            found.add(int(entry.name))
    return found


def _parse(root: Path, count: int) -> list[workers.Outcome]:
    for i in range(count):
        (root / f"m{i}.py").write_text(f"import m{(i + 1) % count}\n")
    work = [(f"m{i}.py", PYTHON, "") for i in range(count)]
    return workers.extract_files(
        root, work, max_file_bytes=1 << 20, workers=2, advance=lambda n: None
    )


@pytest.fixture
def own_pool(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """Pools are kept by size and memory cap: a cap of its own gives the test a pool no
    other test made."""
    own = sum(request.node.name.encode()) * 4096
    monkeypatch.setattr(workers, "WORKER_MEMORY_BYTES", (2 << 30) + own)


@pytest.mark.usefixtures("own_pool")
def test_the_second_job_runs_on_the_first_jobs_workers(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    before = _workers_running()
    first = _parse(tmp_path / "a", 40)
    started = _workers_running() - before
    second = _parse(tmp_path / "b", 40)
    assert all(isinstance(o, Extraction) for o in first + second)
    assert len(started) == 2
    assert started <= _workers_running() <= before | started  # no worker started again


def test_a_pool_whose_worker_died_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that kills its worker (see test_parser_graph.py) leaves no broken pool to
    the next job."""
    (tmp_path / "bomb").mkdir()
    (tmp_path / "bomb" / "Bomb.java").write_text("List<" * 20_000)
    monkeypatch.setattr(workers, "WORKER_MEMORY_BYTES", 256 << 20)
    for _ in range(2):
        died = workers.extract_files(
            tmp_path / "bomb",
            [("Bomb.java", graph_pb2.LANGUAGE_JAVA, "")],
            max_file_bytes=1 << 20,
            workers=2,
            advance=lambda n: None,
        )
        assert died == [workers.WORKER_DIED]
        (tmp_path / "next").mkdir(exist_ok=True)
        after = _parse(tmp_path / "next", 10)
        assert all(isinstance(o, Extraction) for o in after)


@pytest.mark.usefixtures("own_pool")
def test_an_idle_pool_is_shut_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "IDLE_SECONDS", 0.2)
    before = _workers_running()
    _parse(tmp_path, 10)
    started = _workers_running() - before
    assert started
    deadline = time.monotonic() + 20
    while started & _workers_running():
        assert time.monotonic() < deadline, "the idle workers are still running"
        time.sleep(0.1)


KEEP_WARM_WORKERS = """
import sys, time
from pathlib import Path
from neo_alexandria.v1 import graph_pb2
from services.parser import workers

if __name__ == "__main__":
    root = Path(sys.argv[1])
    (root / "a.py").write_text("import os\\n")
    work = [("a.py", graph_pb2.LANGUAGE_PYTHON, "")] * 4
    workers.extract_files(root, work, max_file_bytes=1 << 20, workers=2, advance=lambda n: None)
    print("parsed", flush=True)
    time.sleep(600)
"""


def test_warm_workers_end_with_a_killed_parser(tmp_path: Path) -> None:
    """A SIGKILLed parser cannot shut its pools down: its idle workers (children of the
    forkserver, not of the parser) end by themselves."""
    script = tmp_path / "keep_warm.py"
    script.write_text(KEEP_WARM_WORKERS)
    parser = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parser.stdout is not None and parser.stdout.readline() == "parsed\n"
        idle = {w for server in _children(parser.pid) for w in _children(server)}
        assert len(idle) == 2  # the warm pool's workers, under the forkserver
        parser.kill()
        parser.wait(timeout=30)
        deadline = time.monotonic() + 15
        while any(Path(f"/proc/{pid}").exists() for pid in idle):
            assert time.monotonic() < deadline, "warm workers outlived their parser"
            time.sleep(0.1)
    finally:
        if parser.poll() is None:
            parser.kill()
            parser.wait()
