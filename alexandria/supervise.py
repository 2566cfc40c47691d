"""`alexandria up` keeps its children running, like a service manager.

A child that exits (the parser, the embedder, the gateway, the coordinator or the
embedded Redis) is logged once, with its exit status, and started again after a
delay that doubles from 1 s to 30 s while it keeps failing. A child that dies within
`FAST_CRASH_SECONDS` of its start crashed fast; after `MAX_FAST_CRASHES` fast crashes
in a row the supervisor gives up (`GaveUp`, naming the child and its log) and `up`
stops everything. A child that ran longer than that starts its count again.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

FIRST_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 30.0
FAST_CRASH_SECONDS = 10.0
MAX_FAST_CRASHES = 5


class GaveUp(Exception):
    """A child kept crashing; the message names it, its last status and its log."""


def describe_status(returncode: int) -> str:
    """`exit status 3`, or `killed by SIGKILL` for a negative return code."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"


@dataclass
class _Watch:
    process: subprocess.Popen[bytes]
    started: float
    fast_crashes: int = 0
    delay: float = FIRST_DELAY_SECONDS
    restart_at: float | None = None  # set while it waits to be started again


class Supervisor:
    """Watches `processes` (by name); `start(name)` starts one again, `log_of(name)`
    says where it logs (printed as is). Call `check()` periodically."""

    def __init__(
        self,
        processes: dict[str, subprocess.Popen[bytes]],
        start: Callable[[str], subprocess.Popen[bytes]],
        log_of: Callable[[str], object],
        out: TextIO,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._start, self._log_of, self._out, self._clock = start, log_of, out, clock
        now = clock()
        self._watched = {name: _Watch(p, now) for name, p in processes.items()}

    def check(self) -> None:
        """Notice children that exited and start those whose delay is over; GaveUp
        when one crashed fast `MAX_FAST_CRASHES` times in a row."""
        now = self._clock()
        for name, watch in self._watched.items():
            if watch.restart_at is None:
                returncode = watch.process.poll()
                if returncode is None:
                    if now - watch.started >= FAST_CRASH_SECONDS:
                        watch.fast_crashes, watch.delay = 0, FIRST_DELAY_SECONDS
                    continue
                self._exited(name, watch, returncode, now)
            elif now >= watch.restart_at:
                watch.process = self._start(name)
                watch.started, watch.restart_at = self._clock(), None

    def _exited(self, name: str, watch: _Watch, returncode: int, now: float) -> None:
        status = describe_status(returncode)
        if now - watch.started < FAST_CRASH_SECONDS:
            watch.fast_crashes += 1
        if watch.fast_crashes >= MAX_FAST_CRASHES:
            raise GaveUp(
                f"{name} crashed {watch.fast_crashes} times in a row within "
                f"{FAST_CRASH_SECONDS:.0f} s of starting ({status}); see {self._log_of(name)}"
            )
        print(
            f"{name} exited ({status}); restarting in {watch.delay:.0f}s "
            f"(log: {self._log_of(name)})",
            file=self._out,
            flush=True,
        )
        watch.restart_at = now + watch.delay
        watch.delay = min(watch.delay * 2, MAX_DELAY_SECONDS)
