"""One stack per data dir, and where it is for the CLI.

A stack (`alexandria up`, `alexandria demo`) holds an exclusive `flock` on
`<data dir>/stack.lock` while it runs; the kernel drops it when the process ends, however
it ends, so a stale lock cannot outlive its holder. Once healthy, the stack writes
`<data dir>/stack.json` (its pid and gateway URL) and removes it when it stops. A second
stack on the same data dir is refused with `DataDirInUse`, naming the first one; the CLI
reads the URL of the running stack from the state file when `ALEXANDRIA_GATEWAY_URL` is not set.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO

LOCK_FILE = "stack.lock"
STATE_FILE = "stack.json"


class DataDirInUse(Exception):
    """Another stack runs on this data dir."""


@dataclass(frozen=True)
class RunningStack:
    pid: int
    gateway_url: str | None  # None for an edge stack (no gateway)


def claim(data_dir: Path) -> IO[str]:
    """Hold the data dir's lock (keep the returned file open); DataDirInUse when another
    process holds it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(data_dir / LOCK_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    lock = os.fdopen(descriptor, "a")  # held for the stack's life
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        running = _state(data_dir)
        where = ""
        if running is not None:
            where = f" by pid {running.pid}" + (
                f", at {running.gateway_url}" if running.gateway_url else " (an edge, no gateway)"
            )
        raise DataDirInUse(
            f"the data dir {data_dir} is in use{where or ' by another stack, still starting'}"
        ) from None
    return lock


def write(data_dir: Path, running: RunningStack) -> None:
    """Say where the stack is (call with the lock held)."""
    state = data_dir / STATE_FILE
    partial = state.with_suffix(".tmp")
    partial.write_text(json.dumps({"pid": running.pid, "gateway_url": running.gateway_url}))
    os.replace(partial, state)


def release(data_dir: Path, lock: IO[str]) -> None:
    """Forget the state and drop the lock."""
    (data_dir / STATE_FILE).unlink(missing_ok=True)
    lock.close()


def read(data_dir: Path) -> RunningStack | None:
    """The stack running on `data_dir`, if one holds its lock and has said where it is."""
    try:
        with open(data_dir / LOCK_FILE) as probe:
            fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return None  # nobody holds it: any state file is a killed stack's
    except FileNotFoundError:
        return None
    except BlockingIOError:
        return _state(data_dir)


def _state(data_dir: Path) -> RunningStack | None:
    try:
        state = json.loads((data_dir / STATE_FILE).read_text())
        return RunningStack(int(state["pid"]), state.get("gateway_url") or None)
    except (OSError, ValueError, KeyError, TypeError):
        return None
