"""A parser killed with SIGKILL leaves no git behind: each git command the parser runs
is tied to the thread that started it, which waits for it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from git_repos import SAMPLE_PYTHON_REPO, make_git_repo

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's"
)

# A stand-in for the parser: it runs a git that blocks reading a FIFO which the test
# keeps open, so git cannot end by itself (no EOF) when this process dies.
RUN_BLOCKING_GIT = textwrap.dedent(
    """
    import sys, threading, time
    from services.parser.git_process import run

    def blocking_git():
        with open(sys.argv[2], "rb") as fifo:
            run(["git", "cat-file", "--batch"], env={"PATH": "/usr/bin:/bin"}, cwd=sys.argv[1],
                 deadline=time.monotonic() + 600, cancel=None, stdin=fifo)

    threading.Thread(target=blocking_git, daemon=True).start()  # as the parser's workers do
    print("started", flush=True)
    time.sleep(600)
    """
)


def _git_children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().split(b"\0")[0]
        except (OSError, ValueError, IndexError):
            continue
        if parent == pid and command.endswith(b"git"):
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_git_ends_when_the_parser_is_killed(tmp_path: Path) -> None:
    repo = make_git_repo(tmp_path / "repo", SAMPLE_PYTHON_REPO)
    fifo = tmp_path / "input"
    os.mkfifo(fifo)
    writer = os.open(fifo, os.O_RDWR)  # held here: git never sees the end of its input
    parser = subprocess.Popen(
        [sys.executable, "-c", RUN_BLOCKING_GIT, str(repo), str(fifo)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parser.stdout is not None and parser.stdout.readline() == "started\n"
        deadline = time.monotonic() + 30
        while not (git := _git_children_of(parser.pid)):
            assert time.monotonic() < deadline, "git never started"
            time.sleep(0.05)
        parser.send_signal(signal.SIGKILL)
        parser.wait(timeout=30)
        deadline = time.monotonic() + 10
        while _alive(git[0]):
            assert time.monotonic() < deadline, "git outlived the killed parser"
            time.sleep(0.05)
    finally:
        os.close(writer)
        if parser.poll() is None:
            parser.kill()
            parser.wait()
