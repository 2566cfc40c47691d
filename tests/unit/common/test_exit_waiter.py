"""`exit_waiter` says whether a child has exited, on a pidfd where Linux has one and by
`Popen.wait` elsewhere; both give the same answers."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from services.common.children import exit_waiter


def _no_pidfd(pid: int) -> int:
    raise OSError(38, "Function not implemented")


@pytest.fixture(params=["pidfd", "popen-wait"])
def way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "pidfd" and not hasattr(os, "pidfd_open"):
        pytest.skip("no pidfd_open on this platform")
    if request.param == "popen-wait":
        monkeypatch.setattr(os, "pidfd_open", _no_pidfd, raising=False)
    return str(request.param)


def test_a_running_child_is_not_exited_then_its_exit_is_seen(way: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        with exit_waiter(child) as exited:
            assert exited(0.05) is False
            assert child.stdin is not None
            child.stdin.close()  # end of input: the child exits
            assert exited(30) is True
        assert child.wait(timeout=1) == 0
    finally:
        child.kill()
        child.wait()


def test_a_child_that_already_exited_is_exited(way: str) -> None:
    child = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    with exit_waiter(child) as exited:
        assert exited(30) is True
        assert exited(0) is True
    assert child.wait() == 3
