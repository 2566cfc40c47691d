"""The supervisor of `alexandria up`, on real short-lived processes and a fake clock:
an exit is reported once with its status and the child is started again after a
doubling delay; repeated fast crashes give up, naming the child and its log; a child
that ran long enough starts its count again."""

from __future__ import annotations

import io
import signal
import subprocess
from pathlib import Path

import pytest

from alexandria.supervise import (
    FAST_CRASH_SECONDS,
    MAX_DELAY_SECONDS,
    MAX_FAST_CRASHES,
    GaveUp,
    Supervisor,
    describe_status,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def exits(code: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(["sh", "-c", f"exit {code}"])
    process.wait()
    return process


def test_statuses_are_described_as_a_user_reads_them() -> None:
    assert describe_status(3) == "exit status 3"
    assert describe_status(-signal.SIGKILL) == "killed by SIGKILL"


def test_an_exit_is_reported_then_restarted_after_a_doubling_delay() -> None:
    clock, out, started = Clock(), io.StringIO(), []

    def start(name: str) -> subprocess.Popen[bytes]:
        started.append((name, clock.now))
        return exits(3)

    supervisor = Supervisor(
        {"parser": exits(255)}, start, lambda n: Path(f"/logs/{n}.log"), out, clock
    )
    supervisor.check()
    assert "parser exited (exit status 255); restarting in 1s (log: /logs/parser.log)" in (
        out.getvalue()
    )
    supervisor.check()
    assert started == []  # not before its delay
    clock.now = 1.0
    supervisor.check()
    assert started == [("parser", 1.0)]
    supervisor.check()  # the new one exited too: the delay doubles
    assert out.getvalue().count("restarting in 2s") == 1


def test_repeated_fast_crashes_give_up_naming_the_child_and_its_log() -> None:
    clock = Clock()
    supervisor = Supervisor(
        {"embedder": exits(1)},
        lambda name: exits(1),
        lambda n: Path(f"/logs/{n}.log"),
        io.StringIO(),
        clock,
    )
    with pytest.raises(GaveUp, match=r"embedder crashed 5 times .* see /logs/embedder.log"):
        for _ in range(2 * MAX_FAST_CRASHES):
            supervisor.check()  # starts it again once its delay is over
            supervisor.check()  # notices that it exited at once: a fast crash
            clock.now += MAX_DELAY_SECONDS + 1


def test_a_child_that_ran_long_enough_starts_its_count_again() -> None:
    clock, starts = Clock(), []

    def start(name: str) -> subprocess.Popen[bytes]:
        starts.append(clock.now)
        return exits(1)

    long_lived = subprocess.Popen(["sleep", "30"])
    supervisor = Supervisor({"gateway": long_lived}, start, Path, io.StringIO(), clock)
    supervisor.check()
    clock.now = FAST_CRASH_SECONDS + 1
    supervisor.check()  # it has run long enough
    long_lived.kill()
    long_lived.wait()
    with pytest.raises(GaveUp):
        for _ in range(2 * MAX_FAST_CRASHES):
            supervisor.check()
            supervisor.check()
            clock.now += MAX_DELAY_SECONDS + 1
    # its death after a long run was not a fast crash: five more were needed
    assert len(starts) == MAX_FAST_CRASHES
