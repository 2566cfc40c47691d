"""`alexandria up --detach` and `alexandria down`: the stack as a background service.

`up --detach` starts `alexandria up` in a session of its own (closing the terminal does
not stop it), its output going to `<data dir>/logs/up.out`, and returns once that stack
has said it is healthy (`stack.json`, `stack_state.py`), so the next command works at
once. `down` stops the stack running on the data dir as a service manager would
(SIGTERM) and returns once it is gone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

from alexandria import output, stack_state
from alexandria.stack import START_TIMEOUT_SECONDS, STOP_TIMEOUT_SECONDS
from services.common.config import Settings

OUTPUT_FILE = "up.out"
POLL_SECONDS = 0.2


def start_detached(settings: Settings, up_arguments: list[str]) -> int:
    """Run `alexandria up UP_ARGUMENTS` in the background; 0 once it is healthy, else
    its exit status (2: the data dir is in use), with what it printed."""
    log_dir = settings.data_dir / "logs"
    log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    log = log_dir / OUTPUT_FILE
    descriptor = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    start = os.lseek(descriptor, 0, os.SEEK_END)
    try:
        up = subprocess.Popen(
            [sys.executable, "-m", "alexandria.cli", "up", *up_arguments],
            stdin=subprocess.DEVNULL,
            stdout=descriptor,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        os.close(descriptor)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS + 30
    while (running := stack_state.read(settings.data_dir)) is None or running.pid != up.pid:
        if (code := up.poll()) is not None:
            print(_printed_since(log, start), end="", file=sys.stderr)
            return code or output.FAILED
        if time.monotonic() > deadline:
            up.terminate()
            print(f"alexandria: the stack is not healthy yet; see {log}", file=sys.stderr)
            return output.FAILED
        time.sleep(POLL_SECONDS)
    where = f"at {running.gateway_url}" if running.gateway_url else "(an edge, no gateway)"
    print(f"healthy {where} (pid {up.pid}); `alexandria down` stops it; its output: {log}")
    return output.OK


def stop_running(settings: Settings) -> int:
    """Stop the stack running on the data dir and wait until it is gone (0; 1 when it
    is still there after its stop timeout)."""
    running = stack_state.read(settings.data_dir)
    if running is None:
        print(f"no stack runs on {settings.data_dir}")
        return output.OK
    with suppress(ProcessLookupError):  # it may have ended meanwhile
        os.kill(running.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS + 10
    while stack_state.read(settings.data_dir) is not None:
        if time.monotonic() > deadline:
            print(f"alexandria: pid {running.pid} is still stopping", file=sys.stderr)
            return output.FAILED
        time.sleep(POLL_SECONDS)
    print(f"stopped the stack of pid {running.pid}")
    return output.OK


def _printed_since(log: Path, offset: int) -> str:
    with open(log, errors="replace") as text:
        text.seek(offset)
        return text.read()
