"""Child processes that do not outlive `alexandria up`.

On Linux the kernel can send a process SIGTERM when its parent dies (prctl
PR_SET_PDEATHSIG), so a `kill -9` of `up` does not leave its children running,
re-parented to PID 1. `up` asks for it two ways:

- its Python children (`alexandria serve ...`) find `ALEXANDRIA_PARENT_PID` in their
  environment and call `tie_to_parent` first thing (nothing runs between fork and exec);
- the embedded redis-server, a C program, gets `die_with_parent` as its `preexec_fn`:
  `up` starts it before any thread of its own, where that is safe;
- the parser's git commands, started from threads where a `preexec_fn` is not safe,
  run under `setpriv --pdeathsig KILL` (`die_with_parent_command`), so a SIGKILLed
  parser leaves no git running.

Elsewhere these do nothing; `up` still stops every child on SIGINT, SIGTERM and SIGHUP.
"""

from __future__ import annotations

import ctypes
import os
import select
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache

PR_SET_PDEATHSIG = 1
PARENT_ENV = "ALEXANDRIA_PARENT_PID"
_LINUX = sys.platform.startswith("linux")


def _ask_for_sigterm_when_orphaned(parent: int) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the tie was made
        os._exit(1)


def tie_to_parent() -> None:
    """In a process `up` started (`PARENT_ENV` set): SIGTERM when `up` dies. The
    variable is removed, so this process's own children are not tied to `up`."""
    parent = os.environ.pop(PARENT_ENV, "")
    if _LINUX and parent.isdigit():
        _ask_for_sigterm_when_orphaned(int(parent))


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` tying a child to this process, or None off Linux. Only for a
    process with no other thread running: between fork and exec nothing else is safe."""
    if not _LINUX:
        return None
    parent = os.getpid()
    return lambda: _ask_for_sigterm_when_orphaned(parent)


@cache
def die_with_parent_command() -> tuple[str, ...]:
    """The words to put before a command so that it is killed when the thread that
    started it dies (util-linux `setpriv`; the thread waits for the command, so that is
    when the process dies); empty off Linux or without setpriv."""
    setpriv = shutil.which("setpriv")
    if not _LINUX or setpriv is None:
        return ()
    return (setpriv, "--pdeathsig", "KILL", "--")


@contextmanager
def exit_waiter(process: subprocess.Popen[bytes]) -> Iterator[Callable[[float], bool]]:
    """A function that waits at most `timeout` seconds for `process` to exit and says
    whether it has. On Linux it wakes the moment the process exits (a pidfd polled);
    `Popen.wait(timeout)` instead sleeps in steps of up to 50 ms and so overruns a
    short git command by a few to tens of milliseconds."""
    try:
        fd = os.pidfd_open(process.pid)
    except (AttributeError, OSError):  # not Linux, an old kernel, or already reaped

        def wait(timeout: float) -> bool:
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                return False
            return True

        yield wait
        return
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        yield (
            lambda timeout: (
                bool(poller.poll(max(0, int(timeout * 1000)))) or (process.poll() is not None)
            )
        )
    finally:
        os.close(fd)
